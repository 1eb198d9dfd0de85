// Fast kernels against their scalar references on random inputs of odd sizes.
#include <gtest/gtest.h>

#include "random_fixtures.h"

#include <cmath>
#include <random>
#include <vector>

#include "core/float_codec.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/vec.h"

namespace gqa::ops {
namespace {

using test::randn;

// Weights of the given dtype, returned with their f32 values (after rounding).
struct StoredMatrix {
  std::vector<std::byte> bytes;
  Matrix m;
};

StoredMatrix stored(std::mt19937_64& rng, DType t, int64_t rows, int64_t cols) {
  const auto values = randn(rng, static_cast<size_t>(rows * cols));
  StoredMatrix s;
  s.bytes.resize(static_cast<size_t>(rows * cols * dtype_size(t)));
  encode_from_f32(t, values.data(), rows * cols, s.bytes.data());
  s.m = Matrix{s.bytes.data(), t, rows, cols};
  return s;
}

using test::max_rel;

TEST(Matmul, MatvecAndMatmulMatchTheReferenceForEveryDtypeAndOddSizes) {
  std::mt19937_64 rng(1);
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (auto [rows, cols, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                                 {7, 13, 3},
                                 {65, 129, 5},
                                 {131, 67, 2},
                                 {200, 300, 17}}) {
      const auto w = stored(rng, t, rows, cols);
      const auto x = randn(rng, static_cast<size_t>(n * cols));
      std::vector<float> fast(static_cast<size_t>(n * rows)), ref(fast.size());
      matvec(w.m, x.data(), fast.data());
      matvec_reference(w.m, x.data(), ref.data());
      EXPECT_LE(max_rel(std::vector<float>(fast.begin(), fast.begin() + rows),
                        std::vector<float>(ref.begin(), ref.begin() + rows)),
                1e-5)
          << dtype_name(t) << " " << rows << "x" << cols;
      matmul(w.m, x.data(), n, fast.data());
      matmul_reference(w.m, x.data(), n, ref.data());
      EXPECT_LE(max_rel(fast, ref), 1e-5)
          << dtype_name(t) << " " << rows << "x" << cols << " n=" << n;
    }
  }
}

TEST(Matmul, RowwiseMatchesTheReferenceAndEachRowEqualsMatvecBitForBit) {
  std::mt19937_64 rng(2);
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (auto [rows, cols, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                                 {7, 13, 3},
                                 {65, 129, 5},
                                 {200, 300, 17}}) {
      const auto w = stored(rng, t, rows, cols);
      const auto x = randn(rng, static_cast<size_t>(n * cols));
      std::vector<float> batch(static_cast<size_t>(n * rows)), ref(batch.size());
      matmul_rowwise(w.m, x.data(), n, batch.data());
      matmul_reference(w.m, x.data(), n, ref.data());
      EXPECT_LE(max_rel(batch, ref), 1e-5) << dtype_name(t) << " " << rows << "x" << cols;
      std::vector<float> one(static_cast<size_t>(rows));
      for (int64_t i = 0; i < n; ++i) {
        matvec(w.m, x.data() + i * cols, one.data());
        for (int64_t r = 0; r < rows; ++r)
          ASSERT_EQ(one[static_cast<size_t>(r)], batch[static_cast<size_t>(i * rows + r)])
              << dtype_name(t) << " row " << i << " of " << n;
      }
    }
  }
}

TEST(Elementwise, RmsnormAndSwiglu) {
  const std::vector<float> x{1, -2, 3, -4, 5}, w{1, 1, 2, 1, 0.5f};
  std::vector<float> out(5);
  rmsnorm(x.data(), w.data(), 5, 1e-6f, out.data());
  const double rms = std::sqrt((1 + 4 + 9 + 16 + 25) / 5.0 + 1e-6);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(out[i], x[i] / rms * w[i], 1e-6);
  std::vector<float> g{0, 1, -1}, u{2, 2, 2};
  swiglu(g.data(), u.data(), 3);
  EXPECT_NEAR(g[0], 0.0, 1e-7);
  EXPECT_NEAR(g[1], 2.0 / (1 + std::exp(-1.0)), 1e-6);
}

}  // namespace
}  // namespace gqa::ops

namespace gqa::ops {
namespace {

TEST(Vec, EverySimdPathMatchesScalarOnOddLengths) {
  const VecOps* impls[3];
  const int n = available_vec_ops(impls, 3);
  std::mt19937_64 rng(11);
  for (int64_t len : {1, 7, 8, 15, 16, 17, 48, 80, 129}) {
    const auto a = randn(rng, static_cast<size_t>(len)), b = randn(rng, static_cast<size_t>(len));
    for (int i = 0; i < n; ++i) {
      const VecOps& v = *impls[i];
      double want = 0;
      for (int64_t k = 0; k < len; ++k) want += double(a[k]) * b[k];
      EXPECT_NEAR(v.dot(a.data(), b.data(), len), want, 1e-5 * (1 + std::fabs(want))) << v.name;
      std::vector<float> y = b;
      v.axpy(0.5f, a.data(), y.data(), len);
      for (int64_t k = 0; k < len; ++k) EXPECT_NEAR(y[k], b[k] + 0.5f * a[k], 1e-6) << v.name;
      v.scale(3.0f, y.data(), len);
      std::vector<float> e(static_cast<size_t>(len));
      for (int64_t k = 0; k < len; ++k) e[k] = -90.0f * std::fabs(a[k]) / 4.0f;  // [-90, 0]
      std::vector<float> got = e;
      v.exp_nonpos(got.data(), len);
      for (int64_t k = 0; k < len; ++k) {
        const double ref = e[k] < -87.0f ? 0.0 : std::exp(double(e[k]));
        EXPECT_NEAR(got[k], ref, 2e-7 * ref + 1e-37) << v.name << " exp(" << e[k] << ")";
      }
    }
  }
}

}  // namespace
}  // namespace gqa::ops

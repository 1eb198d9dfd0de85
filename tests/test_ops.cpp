// Fast kernels against their scalar references on random inputs of odd sizes.
#include <gtest/gtest.h>

#include "random_fixtures.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/float_codec.h"
#include "core/half.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/matmul_onednn.h"
#include "ops/matvec_avx512bf16.h"
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

// x rounded to bf16 (nearest even), as the AVX512-BF16 and oneDNN paths round their inputs.
std::vector<float> rounded_to_bf16(const std::vector<float>& x) {
  std::vector<float> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = bf16_to_f32(f32_to_bf16(x[i]));
  return out;
}

// Checks a fast product y (n rows) of W and x. Paths that round the inputs to bf16 multiply
// exactly what they were given, so they must equal the reference on the rounded inputs within
// f32 summation error (1e-5 relative); against the unrounded inputs each output may then be off
// by the rounding: |y - ref| <= 2^-8 sum_c |W[r, c] x[c]| (2^-9 per input, doubled for the
// summation). Other paths must equal the reference on x itself within 1e-5.
void expect_product(const StoredMatrix& w, const std::vector<float>& x, int64_t n,
                    const std::vector<float>& y, bool rounds_inputs, const std::string& what) {
  const int64_t rows = w.m.rows, cols = w.m.cols;
  std::vector<float> ref(static_cast<size_t>(n * rows));
  const std::vector<float> given = rounds_inputs ? rounded_to_bf16(x) : x;
  matmul_reference(w.m, given.data(), n, ref.data());
  EXPECT_LE(max_rel(y, std::vector<float>(ref.begin(), ref.begin() + n * rows)), 1e-5) << what;
  if (!rounds_inputs) return;
  matmul_reference(w.m, x.data(), n, ref.data());
  std::vector<float> wf(static_cast<size_t>(rows * cols));
  decode_to_f32(w.m.dtype, w.m.data, rows * cols, wf.data());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double magnitude = 0;
      for (int64_t c = 0; c < cols; ++c)
        magnitude += std::abs(static_cast<double>(wf[static_cast<size_t>(r * cols + c)]) *
                              x[static_cast<size_t>(t * cols + c)]);
      const size_t i = static_cast<size_t>(t * rows + r);
      ASSERT_LE(std::abs(static_cast<double>(y[i]) - ref[i]), std::ldexp(magnitude, -8))
          << what << " output " << r << " of input row " << t;
    }
}

TEST(Matmul, MatvecAndMatmulMatchTheReferenceForEveryDtypeAndOddSizes) {
  std::mt19937_64 rng(1);
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (auto [rows, cols, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                                 {7, 13, 3},
                                 {65, 129, 5},
                                 {131, 67, 2},
                                 {200, 300, 17},
                                 {70, 1000, 33}}) {
      const auto w = stored(rng, t, rows, cols);
      const auto x = randn(rng, static_cast<size_t>(n * cols));
      const std::string what = std::string(dtype_name(t)) + " " + std::to_string(rows) + "x" +
                               std::to_string(cols) + " n=" + std::to_string(n);
      const bool bf16 = t == DType::kBF16;
      std::vector<float> fast(static_cast<size_t>(n * rows));
      matvec(w.m, x.data(), fast.data());
      expect_product(w, std::vector<float>(x.begin(), x.begin() + cols), 1,
                     std::vector<float>(fast.begin(), fast.begin() + rows),
                     bf16 && have_matvec_avx512bf16(), "matvec " + what);
      matmul(w.m, x.data(), n, fast.data());
      const bool rounds = bf16 && (n == 1 ? have_matvec_avx512bf16() : have_matmul_onednn_bf16());
      expect_product(w, x, n, fast, rounds, "matmul " + what);
    }
  }
}

TEST(Matmul, RowwiseMatchesTheReferenceAndEachRowEqualsMatvecBitForBit) {
  std::mt19937_64 rng(2);
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (auto [rows, cols, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                                 {7, 13, 3},
                                 {65, 129, 5},
                                 {200, 300, 17},
                                 {130, 161, 7}}) {
      const auto w = stored(rng, t, rows, cols);
      const auto x = randn(rng, static_cast<size_t>(n * cols));
      std::vector<float> batch(static_cast<size_t>(n * rows));
      matmul_rowwise(w.m, x.data(), n, batch.data());
      expect_product(w, x, n, batch, t == DType::kBF16 && have_matvec_avx512bf16(),
                     std::string("rowwise ") + std::string(dtype_name(t)) + " " +
                         std::to_string(rows) + "x" + std::to_string(cols));
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

// The widened paths (what CPUs without AVX512-BF16 run) multiply exact f32 products on every
// dtype, whatever this CPU has.
TEST(Matmul, TheWidenedPathsAreExactOnEveryDtype) {
  std::mt19937_64 rng(3);
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (auto [rows, cols, n] :
         {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {65, 129, 5}, {200, 300, 17}}) {
      const auto w = stored(rng, t, rows, cols);
      const auto x = randn(rng, static_cast<size_t>(n * cols));
      const std::string what = std::string(dtype_name(t)) + " " + std::to_string(rows) + "x" +
                               std::to_string(cols) + " n=" + std::to_string(n);
      std::vector<float> y(static_cast<size_t>(n * rows));
      matmul_widened(w.m, x.data(), n, y.data());
      expect_product(w, x, n, y, false, "widened " + what);
      matmul_rowwise_widened(w.m, x.data(), n, y.data());
      expect_product(w, x, n, y, false, "rowwise widened " + what);
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

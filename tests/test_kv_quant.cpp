// KV dtype conversions against values computed in double.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/kv_dtype.h"
#include "ops/kv_quant.h"

namespace gqa::ops {
namespace {

// The value of an fp8 code from its definition: sign, `exp_bits` exponent bits, `man` mantissa.
double fp8_value(uint8_t v, int man, int bias) {
  const int e = (v >> man) & ((1 << (7 - man)) - 1);
  const int m = v & ((1 << man) - 1);
  const double mag =
      e == 0 ? std::ldexp(m, 1 - bias - man) : std::ldexp(1.0 + m / double(1 << man), e - bias);
  return (v & 0x80) ? -mag : mag;
}

// Nearest finite code with ties to the even code, saturating at the largest finite magnitude.
uint8_t fp8_reference(float x, int man, int bias, uint8_t max_code) {
  const double v = x;
  const double maxv = fp8_value(max_code, man, bias);
  if (v >= maxv) return max_code;
  if (v <= -maxv) return 0x80 | max_code;
  uint8_t best = 0;
  double best_d = INFINITY;
  for (int c = 0; c <= max_code; ++c) {
    for (uint8_t sc : {static_cast<uint8_t>(c), static_cast<uint8_t>(0x80 | c)}) {
      const double d = std::fabs(fp8_value(sc, man, bias) - v);
      const bool sign_ok = (sc & 0x80) == (std::signbit(x) ? 0x80 : 0);
      if (d < best_d || (d == best_d && ((sc & 1) == 0) && sign_ok)) {
        best = sc;
        best_d = d;
      }
    }
  }
  if (best_d == std::fabs(v) && (best & 0x7f) == 0)
    best = std::signbit(x) ? 0x80 : 0;  // zero keeps its sign
  return best;
}

TEST(Fp8, EveryE4m3AndE5m2CodeDecodesToItsValue) {
  for (int c = 0; c < 256; ++c) {
    const auto v = static_cast<uint8_t>(c);
    if ((c & 0x7f) == 0x7f) {
      EXPECT_TRUE(std::isnan(e4m3_to_f32(v)));
    } else {
      EXPECT_EQ(static_cast<double>(e4m3_to_f32(v)), fp8_value(v, 3, 7)) << c;
    }
    if ((c & 0x7f) < 0x7c) {
      EXPECT_EQ(static_cast<double>(e5m2_to_f32(v)), fp8_value(v, 2, 15)) << c;
    }
  }
  EXPECT_EQ(e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(e5m2_to_f32(0x7b), 57344.0f);
  EXPECT_TRUE(std::isinf(e5m2_to_f32(0x7c)));
}

TEST(Fp8, EncodingRoundsToNearestEvenAndSaturates) {
  std::mt19937 rng(8);
  std::vector<float> xs = {0.0f,          -0.0f,       448.0f,      449.0f, 464.0f,
                           1e6f,          -1e6f,       57344.0f,    6e4f,   0.001953125f,
                           0.0009765625f, 1.0f / 1024, 3.0f / 1024, 240.0f, 232.0f};
  for (int c = 0; c < 0x7e; ++c)  // midpoints between neighbouring e4m3 codes
    xs.push_back(static_cast<float>(
        (fp8_value(static_cast<uint8_t>(c), 3, 7) + fp8_value(static_cast<uint8_t>(c + 1), 3, 7)) /
        2));
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> expo(-20, 17);
  for (int i = 0; i < 20000; ++i)
    xs.push_back((i % 2 ? -1.0f : 1.0f) * std::ldexp(mant(rng), expo(rng)));
  for (float x : xs) {
    ASSERT_EQ(f32_to_e4m3(x), fp8_reference(x, 3, 7, 0x7e)) << x;
    ASSERT_EQ(f32_to_e5m2(x), fp8_reference(x, 2, 15, 0x7b)) << x;
  }
  EXPECT_EQ(f32_to_e4m3(INFINITY), 0x7e);  // saturate, never overflow
  EXPECT_TRUE(std::isnan(e4m3_to_f32(f32_to_e4m3(NAN))));
}

// A key stored at a slot of a K run holds the bytes encode_kv_vector writes, arranged
// dimension-major: element d of slot j at kv_element_bytes * (d * block_size + j); int8 after
// the block_size f32 scales, in quads (4 * (d / 4 * block_size + j) + d % 4) up to head_dim
// rounded down to 4, then one dimension at a time. decode_k_slots reads back what
// decode_kv_vectors would.
TEST(KeyRun, StoresEachKeyDimensionMajorAndReadsItBack) {
  std::mt19937 rng(21);
  std::normal_distribution<float> d(0.0f, 1.5f);
  const int64_t hd = 50, bs = 7;
  for (KvDtype t : {KvDtype::kF32, KvDtype::kF16, KvDtype::kBF16, KvDtype::kF8E4M3,
                    KvDtype::kF8E5M2, KvDtype::kInt8}) {
    const size_t vb = static_cast<size_t>(kv_vector_bytes(t, hd)), es = kv_element_bytes(t);
    const size_t lead = t == KvDtype::kInt8 ? 4 : 0;
    ASSERT_EQ(k_run_scale_bytes(t, bs), lead * bs);
    const auto where = [&](int64_t i, int64_t j) -> size_t {
      if (t == KvDtype::kInt8 && i < 48) return lead * bs + 4 * (i / 4 * bs + j) + i % 4;
      return lead * bs + (i * bs + j) * es;
    };
    std::vector<std::byte> run(vb * bs), vecs(vb * bs);
    std::vector<float> x(static_cast<size_t>(hd * bs));
    for (auto& v : x) v = d(rng);
    for (int64_t j = 0; j < bs; ++j) {
      encode_k_slot(t, &x[j * hd], hd, bs, j, run.data());
      encode_kv_vector(t, &x[j * hd], hd, vecs.data() + j * vb);
    }
    for (int64_t j = 0; j < bs; ++j) {
      const std::byte* vec = vecs.data() + j * vb;
      if (lead) {
        EXPECT_EQ(std::memcmp(run.data() + 4 * j, vec, 4), 0) << "scale of slot " << j;
      }
      for (int64_t i = 0; i < hd; ++i)
        ASSERT_EQ(std::memcmp(run.data() + where(i, j), vec + lead + i * es, es), 0)
            << kv_dtype_name(t) << " slot " << j << " dim " << i;
    }
    std::vector<float> got(static_cast<size_t>(3 * hd)), want(got.size());
    decode_k_slots(t, run.data(), hd, bs, 2, 3, got.data());
    decode_kv_vectors(t, vecs.data() + 2 * vb, 3, hd, vb, want.data());
    EXPECT_EQ(got, want) << kv_dtype_name(t);
  }
}

// Round trips of random vectors stay within each format's bound:
//   f16 2^-11 relative, bf16 2^-8, fp8-e4m3 2^-4, fp8-e5m2 2^-3 (half an ulp, normal range);
//   int8: half a quantization step, max|x| / 254.
TEST(KvVector, RoundTripsStayWithinEachFormatsBound) {
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.0f, 2.0f);
  const int64_t hd = 80;
  for (KvDtype t : {KvDtype::kF32, KvDtype::kF16, KvDtype::kBF16, KvDtype::kF8E4M3,
                    KvDtype::kF8E5M2, KvDtype::kInt8}) {
    std::vector<std::byte> buf(static_cast<size_t>(kv_vector_bytes(t, hd)));
    std::vector<float> x(hd), y(hd);
    for (int trial = 0; trial < 200; ++trial) {
      for (auto& v : x) v = d(rng);
      encode_kv_vector(t, x.data(), hd, buf.data());
      decode_kv_vectors(t, buf.data(), 1, hd, buf.size(), y.data());
      float amax = 0;
      for (float v : x) amax = std::max(amax, std::fabs(v));
      for (int64_t i = 0; i < hd; ++i) {
        const double err = std::fabs(double(x[i]) - y[i]);
        const double a = std::fabs(x[i]);
        switch (t) {
          case KvDtype::kF32:
            ASSERT_EQ(x[i], y[i]);
            break;
          case KvDtype::kF16:
            ASSERT_LE(err, a * 0x1p-11 + 0x1p-25);
            break;
          case KvDtype::kBF16:
            ASSERT_LE(err, a * 0x1p-8);
            break;
          case KvDtype::kF8E4M3:
            ASSERT_LE(err, a * 0x1p-4 + 0x1p-10);
            break;
          case KvDtype::kF8E5M2:
            ASSERT_LE(err, a * 0x1p-3 + 0x1p-17);
            break;
          case KvDtype::kInt8:
            ASSERT_LE(err, amax / 254.0 * (1 + 1e-6));
            break;
          default:
            break;
        }
      }
    }
  }
}

TEST(KvVector, SaturationZeroVectorsAndPlannerOnlyFormats) {
  const int64_t hd = 4;
  const std::vector<float> big{1e6f, -1e6f, 3e38f, -3e38f};
  std::vector<std::byte> buf(8);
  std::vector<float> y(hd);
  encode_kv_vector(KvDtype::kF16, big.data(), hd, buf.data());
  decode_kv_vectors(KvDtype::kF16, buf.data(), 1, hd, 8, y.data());
  EXPECT_EQ(y, (std::vector<float>{65504.0f, -65504.0f, 65504.0f, -65504.0f}));
  const std::vector<float> zero(hd, 0.0f);
  std::vector<std::byte> ib(static_cast<size_t>(kv_vector_bytes(KvDtype::kInt8, hd)));
  encode_kv_vector(KvDtype::kInt8, zero.data(), hd, ib.data());
  decode_kv_vectors(KvDtype::kInt8, ib.data(), 1, hd, ib.size(), y.data());
  EXPECT_EQ(y, zero);
  EXPECT_THROW(check_cache_dtype(KvDtype::kQ8_0), Error);
  EXPECT_THROW(encode_kv_vector(KvDtype::kQ4_0, zero.data(), hd, buf.data()), Error);
}

}  // namespace
}  // namespace gqa::ops

namespace gqa::ops {
namespace {

// The SIMD widening path (taken for head_dim a multiple of 8) against the scalar definitions,
// for every fp8 code and random f16/bf16/int8 vectors.
TEST(KvVector, SimdDecodeAgreesWithTheScalarDefinitionForEveryCode) {
  std::vector<std::byte> codes;
  for (int c = 0; c < 256; ++c)
    if ((c & 0x7f) != 0x7f && (c & 0x7f) < 0x7c) codes.push_back(static_cast<std::byte>(c));
  while (codes.size() % 8) codes.push_back(std::byte{0});
  const auto n = static_cast<int64_t>(codes.size());
  std::vector<float> out(codes.size());
  decode_kv_vectors(KvDtype::kF8E4M3, codes.data(), 1, n, codes.size(), out.data());
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(out[i], e4m3_to_f32(static_cast<uint8_t>(codes[i]))) << i;
  decode_kv_vectors(KvDtype::kF8E5M2, codes.data(), 1, n, codes.size(), out.data());
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(out[i], e5m2_to_f32(static_cast<uint8_t>(codes[i]))) << i;
  std::mt19937 rng(10);
  std::normal_distribution<float> d(0.0f, 3.0f);
  const int64_t hd = 64;
  std::vector<float> x(hd), odd(hd + 3), y(hd);
  for (KvDtype t : {KvDtype::kF16, KvDtype::kBF16, KvDtype::kInt8}) {
    for (auto& v : x) v = d(rng);
    std::vector<std::byte> buf(static_cast<size_t>(kv_vector_bytes(t, hd)));
    encode_kv_vector(t, x.data(), hd, buf.data());
    decode_kv_vectors(t, buf.data(), 1, hd, buf.size(), y.data());  // SIMD
    // head_dim 61 takes the scalar path for the same leading values.
    std::vector<std::byte> buf61(static_cast<size_t>(kv_vector_bytes(t, 61)));
    encode_kv_vector(t, x.data(), 61, buf61.data());
    std::vector<float> y61(61);
    decode_kv_vectors(t, buf61.data(), 1, 61, buf61.size(), y61.data());
    if (t != KvDtype::kInt8) {  // int8's scale depends on the vector's max
      for (int64_t i = 0; i < 61; ++i) ASSERT_EQ(y[i], y61[i]) << kv_dtype_name(t);
    }
  }
}

// The query rounding of int8 scores: integers in [-127, 127], the largest |q| at 127, each value
// rewritten to integer * scale within half a step of where it was; a zero query stays zero.
TEST(QueryInt8, RoundsLikeAnInt8VectorAndRewritesTheQuery) {
  std::mt19937 rng(23);
  std::normal_distribution<float> d(0.0f, 3.0f);
  const int64_t hd = 37;
  std::vector<float> q(hd), orig(hd);
  std::vector<int8_t> ints(hd);
  for (auto& v : q) v = d(rng);
  orig = q;
  const float scale = round_query_int8(q.data(), hd, ints.data());
  float amax = 0;
  for (float v : orig) amax = std::max(amax, std::fabs(v));
  EXPECT_FLOAT_EQ(scale, amax / 127.0f);
  int top = 0;
  for (int64_t i = 0; i < hd; ++i) {
    EXPECT_EQ(q[i], ints[i] * scale) << i;
    EXPECT_LE(std::fabs(q[i] - orig[i]), 0.5f * scale * (1 + 1e-6f)) << i;
    top = std::max(top, std::abs(int{ints[i]}));
  }
  EXPECT_EQ(top, 127);
  std::vector<float> zero(hd, 0.0f);
  EXPECT_EQ(round_query_int8(zero.data(), hd, ints.data()), 0.0f);
  for (int64_t i = 0; i < hd; ++i) EXPECT_EQ(ints[i], 0);
}

}  // namespace
}  // namespace gqa::ops

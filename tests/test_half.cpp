// f16 and bf16 conversions against values computed in double, independently of the bit tricks.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/float_codec.h"
#include "core/half.h"

namespace gqa {
namespace {

// The value of an f16 bit pattern, from the IEEE definition.
double f16_reference(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exp = (h >> 10) & 0x1f;
  const int man = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(man, -24);
  if (exp == 31) return man ? NAN : sign * INFINITY;
  return sign * std::ldexp(1024 + man, exp - 25);
}

// Nearest f16 to x with ties to the even pattern, by search over every finite f16 value.
uint16_t f32_to_f16_reference(float x, const std::vector<std::pair<double, uint16_t>>& table) {
  if (std::isnan(x)) return 0x7e00;
  const double v = x;
  if (std::fabs(v) >= 65520.0) return v > 0 ? 0x7c00 : 0xfc00;  // half-way past the max: inf
  auto it = std::lower_bound(table.begin(), table.end(), std::make_pair(v, uint16_t{0}),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
  if (it == table.end()) --it;
  auto best = it;
  if (it != table.begin()) {
    auto prev = it - 1;
    const double dp = v - prev->first, dn = it->first - v;
    if (dp < dn || (dp == dn && (prev->second & 1) == 0)) best = prev;
  }
  if (best->first == 0.0) return std::signbit(v) ? 0x8000 : 0x0000;
  return best->second;
}

std::vector<std::pair<double, uint16_t>> finite_f16_table() {
  std::vector<std::pair<double, uint16_t>> t;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const double v = f16_reference(static_cast<uint16_t>(h));
    if (std::isfinite(v) && h != 0x8000) t.emplace_back(v, static_cast<uint16_t>(h));
  }
  std::sort(t.begin(), t.end());
  return t;
}

TEST(Half, EveryF16PatternDecodesToItsIeeeValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const double want = f16_reference(static_cast<uint16_t>(h));
    const float got = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << h;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << h;
      ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << h;
    }
  }
}

TEST(Half, F32ToF16RoundsToNearestEvenOnRandomAndEdgeValues) {
  const auto table = finite_f16_table();
  std::mt19937 rng(16);
  std::vector<float> values = {0.0f,  -0.0f, 1.0f,     65504.0f, 65519.99f, 65520.0f,
                               1e-8f, 3e-8f, 5.96e-8f, 2.98e-8f, 6.1e-5f,   6.103515625e-05f,
                               -2.5f, 1e30f, -1e30f};
  // Exact ties: midpoints between neighbouring f16 values.
  for (size_t i = 0; i + 1 < table.size(); i += 97)
    values.push_back(static_cast<float>((table[i].first + table[i + 1].first) / 2));
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> expo(-30, 17);
  for (int i = 0; i < 200000; ++i)
    values.push_back((i % 2 ? -1.0f : 1.0f) * std::ldexp(mant(rng), expo(rng)));
  for (float x : values) {
    const uint16_t want = f32_to_f16_reference(x, table);
    ASSERT_EQ(f32_to_f16(x), want) << x;
  }
  EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
}

TEST(Half, Bf16RoundsToNearestEvenAndKeepsNan) {
  std::mt19937 rng(32);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    const float x = std::bit_cast<float>(bits(rng));
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(x))));
      continue;
    }
    // The two bf16 neighbours of x, and the nearer one (ties to even), in double.
    const uint32_t u = std::bit_cast<uint32_t>(x);
    const auto lo = static_cast<uint16_t>(u >> 16);
    const auto hi = static_cast<uint16_t>(lo + 1);
    const double dl = std::fabs(static_cast<double>(x) - bf16_to_f32(lo));
    // Past the largest finite bf16 the next step is 2^128, which rounds to infinity.
    const double hi_value = (hi & 0x7fff) == 0x7f80 ? std::copysign(std::ldexp(1.0, 128), x)
                                                    : static_cast<double>(bf16_to_f32(hi));
    const double dh = std::fabs(hi_value - x);
    const uint16_t want = (u & 0xffff) == 0 ? lo : (dl < dh || (dl == dh && !(lo & 1))) ? lo : hi;
    ASSERT_EQ(f32_to_bf16(x), want) << x;
  }
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(f32_to_bf16(3.4e38f), 0x7f80);  // rounds past the largest bf16: inf
}

TEST(FloatCodec, RoundTripsAndRejectsNonFloatDtypes) {
  std::vector<float> x = {1.5f, -2.25f, 0.0f, 1e-3f};
  std::vector<std::byte> buf(x.size() * 4);
  std::vector<float> y(x.size());
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    encode_from_f32(t, x.data(), 4, buf.data());
    decode_to_f32(t, buf.data(), 4, y.data());
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(x[i], y[i]);
    EXPECT_NEAR(y[3], 1e-3f, 1e-5f);
  }
  EXPECT_THROW(decode_to_f32(DType::kI64, buf.data(), 1, y.data()), Error);
  EXPECT_THROW(encode_from_f32(DType::kF8E4M3, x.data(), 1, buf.data()), Error);
}

}  // namespace
}  // namespace gqa

#pragma once
// fp8 codes -> f16 bit patterns, for widening fp8 KV with the f16 conversion instructions.
//   e5m2: the code is the top byte of its f16.
//   e4m3: sign-extended to 16 bits and shifted left by 7, a code's 7 magnitude bits land on f16
//         bits 7..13 and copies of its sign on bits 14 and 15; clearing bit 14 leaves an f16
//         worth 2^-8 of the value (exponent bias 15 against 7), subnormals included. The NaN
//         code 0x7f, written only for NaN input, reads as 480.
#include "core/cpu_features.h"
#if GQA_X86
#include <immintrin.h>

#include <cstdint>

namespace gqa::ops {

// 8 e4m3 codes (the low 8 bytes of `codes`) -> 8 f16 worth 2^-8 of them.
__attribute__((target("avx2"), always_inline)) inline __m128i e4m3_as_f16_x8(__m128i codes) {
  return _mm_and_si128(_mm_slli_epi16(_mm_cvtepi8_epi16(codes), 7),
                       _mm_set1_epi16(static_cast<int16_t>(0xBF80)));
}

// 16 e4m3 codes -> 16 f16 worth 2^-8 of them.
__attribute__((target("avx2"), always_inline)) inline __m256i e4m3_as_f16_x16(__m128i codes) {
  return _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(codes), 7),
                          _mm256_set1_epi16(static_cast<int16_t>(0xBF80)));
}

// 8 e5m2 codes (the low 8 bytes of `codes`) -> their 8 f16.
__attribute__((target("avx2"), always_inline)) inline __m128i e5m2_as_f16_x8(__m128i codes) {
  return _mm_slli_epi16(_mm_cvtepu8_epi16(codes), 8);
}

// 16 e5m2 codes -> their 16 f16.
__attribute__((target("avx2"), always_inline)) inline __m256i e5m2_as_f16_x16(__m128i codes) {
  return _mm256_slli_epi16(_mm256_cvtepu8_epi16(codes), 8);
}

}  // namespace gqa::ops

#endif  // GQA_X86

#pragma once
// exp(x) on a vector of 16 floats with AVX-512, for softmax numerators: x <= 0 expected;
// relative error below 2e-7; arguments below -87 give 0.
//   exp(x) = 2^k * 2^f, k = round(x log2 e), f = x - k ln 2 (Cody-Waite, two steps), and
//   2^f = e^(f) by its degree-6 Taylor polynomial; k goes into the exponent bits.
#include "core/cpu_features.h"
#if GQA_X86
#include <immintrin.h>

namespace gqa::ops {

__attribute__((target("avx512f"), always_inline)) inline __m512 exp_nonpos_avx512(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.0f);
  const __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  const __m512 v = _mm512_max_ps(x, lo);
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(v, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_fmadd_ps(k, _mm512_set1_ps(2.12194440e-4f),
                                   _mm512_fmadd_ps(k, _mm512_set1_ps(-0.693359375f), v));
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  const __m512 r = _mm512_castsi512_ps(
      _mm512_add_epi32(_mm512_castps_si512(p), _mm512_slli_epi32(_mm512_cvtps_epi32(k), 23)));
  return _mm512_mask_mov_ps(r, under, _mm512_setzero_ps());
}

}  // namespace gqa::ops

#endif  // GQA_X86

#include "ops/vec.h"

#include <cmath>

#include "ops/exp_simd.h"

#if GQA_X86
// GCC 12's AVX-512 headers initialize their "undefined" vectors from themselves, which trips
// -Wmaybe-uninitialized in every function that uses them (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#endif

namespace gqa::ops {
namespace {

float dot_scalar(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
void axpy_scalar(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
void scale_scalar(float a, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

void exp_scalar(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

#if GQA_X86
// exp(x) = 2^k * 2^f with k = round(x log2 e) and f in [-0.5, 0.5]; 2^f by a degree-6
// polynomial (Taylor coefficients of e^(f ln 2)), k added to the exponent bits.
#define GQA_EXP_POLY(SET1, FMA, MUL, ROUND, CVT, ADD_EPI, SLLI, CAST, MAX)     \
  const auto lo = SET1(-87.0f);                                                \
  v = MAX(v, lo);                                                              \
  const auto t = MUL(v, SET1(1.44269504088896341f));                           \
  const auto k = ROUND(t);                                                     \
  /* f = x - k ln 2 in two steps (Cody-Waite), exact enough for large |x| */   \
  const auto f = FMA(k, SET1(2.12194440e-4f), FMA(k, SET1(-0.693359375f), v)); \
  auto p = SET1(1.0f / 720);                                                   \
  p = FMA(p, f, SET1(1.0f / 120));                                             \
  p = FMA(p, f, SET1(1.0f / 24));                                              \
  p = FMA(p, f, SET1(1.0f / 6));                                               \
  p = FMA(p, f, SET1(0.5f));                                                   \
  p = FMA(p, f, SET1(1.0f));                                                   \
  p = FMA(p, f, SET1(1.0f));                                                   \
  const auto r = CAST(ADD_EPI(CAST_I(p), SLLI(CVT(k), 23)));

#define GQA_ROUND8(a) _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

__attribute__((target("avx2,fma"))) void exp_avx2(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
#define CAST_I _mm256_castps_si256
    GQA_EXP_POLY(_mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps, GQA_ROUND8, _mm256_cvtps_epi32,
                 _mm256_add_epi32, _mm256_slli_epi32, _mm256_castsi256_ps, _mm256_max_ps)
#undef CAST_I
    // Below -87 the result underflows: return exactly 0 there.
    _mm256_storeu_ps(x + i,
                     _mm256_blendv_ps(r, _mm256_setzero_ps(),
                                      _mm256_cmp_ps(_mm256_loadu_ps(x + i), lo, _CMP_LT_OQ)));
  }
  exp_scalar(x + i, n - i);
}

__attribute__((target("avx512f"))) void exp_avx512(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, exp_nonpos_avx512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, m, exp_nonpos_avx512(_mm512_maskz_loadu_ps(m, x + i)));
  }
}
#undef GQA_EXP_POLY
#undef GQA_ROUND8

__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  acc0 = _mm256_add_ps(acc0, acc1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
  s = _mm_hadd_ps(s, s);
  s = _mm_hadd_ps(s, s);
  float r = _mm_cvtss_f32(s);
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}
__attribute__((target("avx2,fma"))) void axpy_avx2(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}
__attribute__((target("avx2,fma"))) void scale_avx2(float a, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= a;
}

__attribute__((target("avx512f"))) float dot_avx512(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}
__attribute__((target("avx512f"))) void axpy_avx512(float a, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(
        y + i, m,
        _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}
__attribute__((target("avx512f"))) void scale_avx512(float a, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(va, _mm512_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= a;
}

constexpr VecOps kAvx2{"avx2", Isa::kAvx2, dot_avx2, axpy_avx2, scale_avx2, exp_avx2};
constexpr VecOps kAvx512{"avx512", Isa::kAvx512, dot_avx512, axpy_avx512, scale_avx512, exp_avx512};
#endif  // GQA_X86

constexpr VecOps kScalar{"scalar", Isa::kScalar, dot_scalar, axpy_scalar, scale_scalar, exp_scalar};

}  // namespace

const VecOps& vec_ops() {
#if GQA_X86
  static const VecOps& best = cpu_features().at_least(Isa::kAvx512) ? kAvx512
                              : cpu_features().at_least(Isa::kAvx2) ? kAvx2
                                                                    : kScalar;
  return best;
#else
  return kScalar;
#endif
}

int available_vec_ops(const VecOps** out, int max) {
  int n = 0;
  if (n < max) out[n++] = &kScalar;
#if GQA_X86
  if (n < max && cpu_features().at_least(Isa::kAvx2)) out[n++] = &kAvx2;
  if (n < max && cpu_features().at_least(Isa::kAvx512)) out[n++] = &kAvx512;
#endif
  return n;
}

}  // namespace gqa::ops

#include "ops/matvec_avx512.h"

#include "core/cpu_features.h"

#if GQA_X86
// GCC 12 AVX-512 headers: see vec.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace gqa::ops {
namespace {

#define GQA_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c"), always_inline)) inline

// 16 values of row `p` from column c, widened to f32; `m` masks a short tail.
template <DType T>
GQA_AVX512 __m512 load16(const void* p, int64_t c, __mmask16 m) {
  if constexpr (T == DType::kF32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + c);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + c);
    if constexpr (T == DType::kBF16)
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else
      return _mm512_cvtph_ps(h);
  }
}

// Sums the lanes of each a[i]; lane i of the result is the sum of a[i]. Every a[i] goes
// through the same adds (halves, then quarters, then pairs, then lanes), so its sum does not
// depend on the other fifteen.
GQA_AVX512 __m512 sum16(__m512 a[16]) {
  __m512 b[8], c[4], d[2];
  for (int k = 0; k < 8; ++k)  // quarters 0,1: row k; 2,3: row k + 8
    b[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[k], a[k + 8], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_f32x4(a[k], a[k + 8], _MM_SHUFFLE(3, 2, 3, 2)));
  for (int k = 0; k < 4; ++k)  // quarters: rows k, k + 8, k + 4, k + 12
    c[k] = _mm512_add_ps(_mm512_shuffle_f32x4(b[k], b[k + 4], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(b[k], b[k + 4], _MM_SHUFFLE(3, 1, 3, 1)));
  for (int k = 0; k < 2; ++k)  // lanes 0,1 of a quarter: its row in c[k]; 2,3: in c[k + 2]
    d[k] = _mm512_add_ps(_mm512_shuffle_ps(c[k], c[k + 2], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(c[k], c[k + 2], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 e = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
  // e holds rows 0 2 1 3 | 8 10 9 11 | 4 6 5 7 | 12 14 13 15; put row i in lane i.
  const __m512i order = _mm512_setr_epi32(0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15);
  return _mm512_permutexvar_ps(order, e);
}

template <DType T>
__attribute__((target("avx512f,avx512bw,avx512vl,f16c"))) void rows_kernel(
    const void* w, int64_t rows, int64_t cols, const float* x, int64_t n, int64_t r0, int64_t r1,
    float* y) {
  const int64_t elem = T == DType::kF32 ? 4 : 2;
  for (int64_t rb = r0; rb < r1; rb += 16) {
    const int64_t live = std::min<int64_t>(16, r1 - rb);
    // Rows past the end read the last real row again; their sums are never stored.
    const char* row[16];
    for (int64_t i = 0; i < 16; ++i)
      row[i] = static_cast<const char*>(w) + (rb + std::min(i, live - 1)) * cols * elem;
    for (int64_t t = 0; t < n; ++t) {
      const float* xt = x + t * cols;
      __m512 acc[16];
      for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
      for (int64_t c = 0; c < cols; c += 16) {
        const __mmask16 m =
            cols - c >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (cols - c)) - 1);
        const __m512 xv = _mm512_maskz_loadu_ps(m, xt + c);
        for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(load16<T>(row[i], c, m), xv, acc[i]);
      }
      const __mmask16 out = static_cast<__mmask16>((1u << live) - 1);
      _mm512_mask_storeu_ps(y + t * rows + rb, out, sum16(acc));
    }
  }
}

}  // namespace

bool have_matvec_avx512() {
  return cpu_features().at_least(Isa::kAvx512);
}

void matvec_rows_avx512(DType dtype, const void* w, int64_t rows, int64_t cols, const float* x,
                        int64_t n, int64_t r0, int64_t r1, float* y) {
  switch (dtype) {
    case DType::kF32:
      return rows_kernel<DType::kF32>(w, rows, cols, x, n, r0, r1, y);
    case DType::kBF16:
      return rows_kernel<DType::kBF16>(w, rows, cols, x, n, r0, r1, y);
    case DType::kF16:
      return rows_kernel<DType::kF16>(w, rows, cols, x, n, r0, r1, y);
    default:
      return;
  }
}

}  // namespace gqa::ops

#else  // not x86

namespace gqa::ops {
bool have_matvec_avx512() {
  return false;
}
void matvec_rows_avx512(DType, const void*, int64_t, int64_t, const float*, int64_t, int64_t,
                        int64_t, float*) {}
}  // namespace gqa::ops

#endif  // GQA_X86

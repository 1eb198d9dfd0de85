#include "ops/matvec_avx512bf16.h"

#include "core/cpu_features.h"

#if GQA_X86
// GCC 12 AVX-512 headers: see vec.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <algorithm>

namespace gqa::ops {
namespace {

#define GQA_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define GQA_BF16_INLINE GQA_BF16_TARGET __attribute__((always_inline)) inline

constexpr int kLanes = 4;   // accumulators per (row, input): columns c / 32 mod 4
constexpr int kInputs = 4;  // input rows per pass over a weight row: 16 accumulators

// One weight row against T input rows (t0 .. t0 + T): every 32 columns one vdpbf16ps per input
// into accumulator (c / 32) mod 4, then the four summed pairwise and their lanes by one fixed
// tree, so the sum for (row, input) does not depend on T or on the other inputs.
template <int T>
GQA_BF16_INLINE void row_dot(const uint16_t* row, int64_t cols, const uint16_t* xb,
                             int64_t stride, int64_t t0, int64_t rows, int64_t r, float* y) {
  __m512 acc[T][kLanes];
  for (int t = 0; t < T; ++t)
    for (int k = 0; k < kLanes; ++k) acc[t][k] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 32 * kLanes <= cols; c += 32 * kLanes)
    for (int k = 0; k < kLanes; ++k) {
      const __m512bh wv = (__m512bh)_mm512_loadu_si512(row + c + 32 * k);
      for (int t = 0; t < T; ++t)
        acc[t][k] = _mm512_dpbf16_ps(
            acc[t][k], wv, (__m512bh)_mm512_loadu_si512(xb + (t0 + t) * stride + c + 32 * k));
    }
  for (int k = 0; c < cols; c += 32, ++k) {  // the tail, masked (the inputs are zero padded)
    const __mmask32 m =
        cols - c >= 32 ? ~__mmask32(0) : static_cast<__mmask32>((1ull << (cols - c)) - 1);
    const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(m, row + c);
    for (int t = 0; t < T; ++t)
      acc[t][k] = _mm512_dpbf16_ps(acc[t][k], wv,
                                   (__m512bh)_mm512_loadu_si512(xb + (t0 + t) * stride + c));
  }
  for (int t = 0; t < T; ++t)
    y[(t0 + t) * rows + r] = _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]), _mm512_add_ps(acc[t][2], acc[t][3])));
}

// Row by row, so each thread reads its share of W as one sequential stream (the hardware
// prefetcher's best case: 46-50 GB/s on the development VM, against 35-39 GB/s for blocks of 8
// rows read side by side).
GQA_BF16_TARGET void rows_kernel(const uint16_t* w, int64_t rows, int64_t cols,
                                 const uint16_t* xb, int64_t n, int64_t r0, int64_t r1, float* y) {
  const int64_t stride = bf16_input_stride(cols);
  for (int64_t r = r0; r < r1; ++r) {
    const uint16_t* row = w + r * cols;
    int64_t t = 0;
    for (; t + kInputs <= n; t += kInputs) row_dot<kInputs>(row, cols, xb, stride, t, rows, r, y);
    switch (n - t) {
      case 3:
        row_dot<3>(row, cols, xb, stride, t, rows, r, y);
        break;
      case 2:
        row_dot<2>(row, cols, xb, stride, t, rows, r, y);
        break;
      case 1:
        row_dot<1>(row, cols, xb, stride, t, rows, r, y);
        break;
      default:
        break;
    }
  }
}

GQA_BF16_TARGET void round_rows(const float* x, int64_t n, int64_t cols, uint16_t* xb) {
  const int64_t stride = bf16_input_stride(cols);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < stride; c += 16) {
      const int64_t left = std::max<int64_t>(0, std::min<int64_t>(16, cols - c));
      const auto m = static_cast<__mmask16>((1u << left) - 1);
      const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + t * cols + c));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(xb + t * stride + c), (__m256i)h);
    }
}

}  // namespace

bool have_matvec_avx512bf16() {
  return cpu_features().avx512bf16;
}

int64_t bf16_input_stride(int64_t cols) {
  return (cols + 31) / 32 * 32;
}

void round_inputs_to_bf16(const float* x, int64_t n, int64_t cols, uint16_t* xb) {
  round_rows(x, n, cols, xb);
}

void matvec_rows_avx512bf16(const uint16_t* w, int64_t rows, int64_t cols, const uint16_t* xb,
                            int64_t n, int64_t r0, int64_t r1, float* y) {
  rows_kernel(w, rows, cols, xb, n, r0, r1, y);
}

}  // namespace gqa::ops

#else  // not x86

namespace gqa::ops {
bool have_matvec_avx512bf16() {
  return false;
}
int64_t bf16_input_stride(int64_t cols) {
  return (cols + 31) / 32 * 32;
}
void round_inputs_to_bf16(const float*, int64_t, int64_t, uint16_t*) {}
void matvec_rows_avx512bf16(const uint16_t*, int64_t, int64_t, const uint16_t*, int64_t, int64_t,
                            int64_t, float*) {}
}  // namespace gqa::ops

#endif  // GQA_X86

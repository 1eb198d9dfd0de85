#include "ops/matvec_avx512bf16.h"

#include "core/cpu_features.h"

#if GQA_X86
// GCC 12 AVX-512 headers: see vec.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <algorithm>
#include <vector>

namespace gqa::ops {
namespace {

#define GQA_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define GQA_BF16_INLINE GQA_BF16_TARGET __attribute__((always_inline)) inline

constexpr int kLanes = 4;  // accumulators per (row, input): columns c / 32 mod 4

// R weight rows (row[0 .. R)) against T input rows (t0 .. t0 + T): every 32 columns one
// vdpbf16ps per (row, input) into accumulator (c / 32) mod 4, then the four summed pairwise and
// their lanes by one fixed tree, so the sum for (row, input) depends neither on R nor T nor on
// the other rows and inputs. R * T <= 6 keeps the 4 R T accumulators in registers.
template <int R, int T>
GQA_BF16_INLINE void rows_dot(const uint16_t* const* row, int64_t cols, const uint16_t* xb,
                              int64_t stride, int64_t t0, int64_t rows, int64_t r, float* y) {
  __m512 acc[R][T][kLanes];
  for (int i = 0; i < R; ++i)
    for (int t = 0; t < T; ++t)
      for (int k = 0; k < kLanes; ++k) acc[i][t][k] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 32 * kLanes <= cols; c += 32 * kLanes)
    for (int k = 0; k < kLanes; ++k) {
      __m512bh x[T];
      for (int t = 0; t < T; ++t)
        x[t] = (__m512bh)_mm512_loadu_si512(xb + (t0 + t) * stride + c + 32 * k);
      for (int i = 0; i < R; ++i) {
        const __m512bh wv = (__m512bh)_mm512_loadu_si512(row[i] + c + 32 * k);
        for (int t = 0; t < T; ++t) acc[i][t][k] = _mm512_dpbf16_ps(acc[i][t][k], wv, x[t]);
      }
    }
  for (int k = 0; c < cols; c += 32, ++k) {  // the tail, masked (the inputs are zero padded)
    const __mmask32 m =
        cols - c >= 32 ? ~__mmask32(0) : static_cast<__mmask32>((1ull << (cols - c)) - 1);
    for (int i = 0; i < R; ++i) {
      const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(m, row[i] + c);
      for (int t = 0; t < T; ++t)
        acc[i][t][k] = _mm512_dpbf16_ps(acc[i][t][k], wv,
                                        (__m512bh)_mm512_loadu_si512(xb + (t0 + t) * stride + c));
    }
  }
  for (int i = 0; i < R; ++i)
    for (int t = 0; t < T; ++t)
      y[(t0 + t) * rows + r + i] = _mm512_reduce_add_ps(_mm512_add_ps(
          _mm512_add_ps(acc[i][t][0], acc[i][t][1]), _mm512_add_ps(acc[i][t][2], acc[i][t][3])));
}

// R rows against every input: T = 6 / R at a time, then the rest.
template <int R>
GQA_BF16_INLINE void against_inputs(const uint16_t* const* row, int64_t cols, const uint16_t* xb,
                                    int64_t stride, int64_t n, int64_t rows, int64_t r, float* y) {
  constexpr int kT = 6 / R;
  int64_t t = 0;
  for (; t + kT <= n; t += kT) rows_dot<R, kT>(row, cols, xb, stride, t, rows, r, y);
  for (; t + 2 <= n; t += 2) rows_dot<R, 2>(row, cols, xb, stride, t, rows, r, y);
  if (t < n) rows_dot<R, 1>(row, cols, xb, stride, t, rows, r, y);
}

// A decode step (n < 3) goes row by row, so each thread reads its share of W as one sequential
// stream (the hardware prefetcher's best case: 44-50 GB/s on the development VM, against 35-39
// GB/s for blocks of 8 rows read side by side). Batches take two rows at a time (three inputs
// per pass: 24 dot products per 20 loads, against 16 with one row).
GQA_BF16_TARGET void rows_kernel(const uint16_t* w, int64_t rows, int64_t cols, const uint16_t* xb,
                                 int64_t n, int64_t r0, int64_t r1, float* y) {
  const int64_t stride = bf16_input_stride(cols);
  int64_t r = r0;
  if (n >= 3)
    for (; r + 2 <= r1; r += 2) {
      const uint16_t* row[2] = {w + r * cols, w + (r + 1) * cols};
      against_inputs<2>(row, cols, xb, stride, n, rows, r, y);
    }
  for (; r < r1; ++r) {
    const uint16_t* row[1] = {w + r * cols};
    against_inputs<1>(row, cols, xb, stride, n, rows, r, y);
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

const uint16_t* round_inputs_to_bf16(const float* x, int64_t n, int64_t cols) {
  thread_local std::vector<uint16_t> xb;
  const auto need = static_cast<size_t>(n * bf16_input_stride(cols));
  if (xb.size() < need) xb.resize(need);
  round_rows(x, n, cols, xb.data());
  return xb.data();
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
const uint16_t* round_inputs_to_bf16(const float*, int64_t, int64_t) {
  return nullptr;
}
void matvec_rows_avx512bf16(const uint16_t*, int64_t, int64_t, const uint16_t*, int64_t, int64_t,
                            int64_t, float*) {}
}  // namespace gqa::ops

#endif  // GQA_X86

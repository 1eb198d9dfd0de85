#include "ops/matmul.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/float_codec.h"
#include "core/half.h"
#include "ops/matmul_onednn.h"
#include "ops/matvec_avx512.h"
#include "ops/matvec_avx512bf16.h"

namespace gqa::ops {
namespace {

// Rows of W widened per sgemm call in the bf16/f16 path: 64 rows of a 8192-wide matrix are 2 MiB.
constexpr int64_t kTileRows = 64;

// Not inlined, so every caller runs the same code and one row's sum does not depend on the
// loop around it (matvec and matmul_rowwise agree bit for bit).
template <typename T, typename Widen>
__attribute__((noinline)) float dot_row(const T* w, const float* x, int64_t n, Widen widen) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < n; ++c) sum += widen(w[c]) * x[c];
  return sum;
}

}  // namespace

void set_threads(int n) {
  if (n <= 0) return;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

std::string product_path(DType weights) {
  if (weights != DType::kBF16 || !have_matvec_avx512bf16()) return "f32 products (weights widened)";
  return have_matmul_onednn_bf16() ? "bf16 products (AVX512-BF16; prefill oneDNN)"
                                   : "bf16 products (AVX512-BF16; prefill widened)";
}

void matvec(const Matrix& w, const float* x, float* y) {
  matmul_rowwise(w, x, 1, y);
}

void matmul_rowwise(const Matrix& w, const float* x, int64_t n, float* y) {
  const Projection p{&w, y};
  matmul_rowwise_shared_input(std::span(&p, 1), x, n);
}

void matmul_rowwise_shared_input(std::span<const Projection> ps, const float* x, int64_t n) {
  if (ps.empty()) return;
  const int64_t cols = ps.front().w->cols;
  const bool bf16 = std::all_of(ps.begin(), ps.end(), [cols](const Projection& p) {
    return p.w->dtype == DType::kBF16 && p.w->cols == cols;
  });
  if (!bf16 || !have_matvec_avx512bf16()) {
    for (const Projection& p : ps) matmul_rowwise_widened(*p.w, x, n, p.y);
    return;
  }
  // The inputs rounded to bf16 once, then blocks of 64 rows (256 KB of a 2048-wide matrix: long
  // sequential runs) of every matrix handed to the threads as they finish, so neither waits for the
  // other at the end.
  constexpr int64_t kBlock = 64;
  constexpr size_t kMaxProjections = 4;
  if (ps.size() > kMaxProjections) {
    for (size_t i = 0; i < ps.size(); i += kMaxProjections)
      matmul_rowwise_shared_input(ps.subspan(i, std::min(kMaxProjections, ps.size() - i)), x, n);
    return;
  }
  const uint16_t* rounded = round_inputs_to_bf16(x, n, cols);  // read by every worker
  int64_t first_block[kMaxProjections + 1] = {0};
  for (size_t i = 0; i < ps.size(); ++i)
    first_block[i + 1] = first_block[i] + (ps[i].w->rows + kBlock - 1) / kBlock;
  const int64_t blocks = first_block[ps.size()];
#pragma omp parallel for schedule(dynamic)
  for (int64_t b = 0; b < blocks; ++b) {
    size_t i = 0;
    while (b >= first_block[i + 1]) ++i;
    const Matrix& w = *ps[i].w;
    const int64_t r0 = (b - first_block[i]) * kBlock;
    matvec_rows_avx512bf16(reinterpret_cast<const uint16_t*>(w.data), w.rows, cols, rounded, n, r0,
                           std::min(w.rows, r0 + kBlock), ps[i].y);
  }
}

void matmul_rowwise_widened(const Matrix& w, const float* x, int64_t n, float* y) {
  const int64_t rows = w.rows, cols = w.cols;
  const bool known = w.dtype == DType::kF32 || w.dtype == DType::kBF16 || w.dtype == DType::kF16;
  if (known && have_matvec_avx512()) {
    // Blocks of 16 rows split across threads; each block sees every input row.
    const int64_t blocks = (rows + 15) / 16;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b)
      matvec_rows_avx512(w.dtype, w.data, rows, cols, x, n, b * 16, std::min(rows, b * 16 + 16), y);
    return;
  }
  // One weight row at a time against every input row: the row is read from memory once for the
  // batch, and y[t, r] comes from the same dot_row call whatever n is.
  switch (w.dtype) {
    case DType::kF32: {
      const auto* m = reinterpret_cast<const float*>(w.data);
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t t = 0; t < n; ++t)
          y[t * rows + r] = dot_row(m + r * cols, x + t * cols, cols, [](float f) { return f; });
      return;
    }
    case DType::kBF16: {
      const auto* m = reinterpret_cast<const uint16_t*>(w.data);
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t t = 0; t < n; ++t)
          y[t * rows + r] =
              dot_row(m + r * cols, x + t * cols, cols, [](uint16_t h) { return bf16_to_f32(h); });
      return;
    }
    case DType::kF16: {
      const auto* m = reinterpret_cast<const uint16_t*>(w.data);
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t t = 0; t < n; ++t)
          y[t * rows + r] =
              dot_row(m + r * cols, x + t * cols, cols, [](uint16_t h) { return f16_to_f32(h); });
      return;
    }
    default:
      matmul_reference(w, x, n, y);  // throws for dtypes the decoder does not know
  }
}

void matvec_reference(const Matrix& w, const float* x, float* y) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    decode_to_f32(w.dtype, w.row(r), w.cols, row.data());
    double sum = 0.0;
    for (int64_t c = 0; c < w.cols; ++c) sum += static_cast<double>(row[c]) * x[c];
    y[r] = static_cast<float>(sum);
  }
}

void matmul(const Matrix& w, const float* x, int64_t n, float* y) {
  if (n == 1) return matvec(w, x, y);
  if (w.dtype == DType::kBF16 && have_matmul_onednn_bf16() &&
      matmul_onednn_bf16(reinterpret_cast<const uint16_t*>(w.data), w.rows, w.cols, x, n, y))
    return;
  matmul_widened(w, x, n, y);
}

void matmul_widened(const Matrix& w, const float* x, int64_t n, float* y) {
  const auto rows = static_cast<int>(w.rows), cols = static_cast<int>(w.cols);
  if (w.dtype == DType::kF32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), rows, cols, 1.0f, x,
                cols, reinterpret_cast<const float*>(w.data), cols, 0.0f, y, rows);
    return;
  }
  std::vector<float> tile(static_cast<size_t>(kTileRows * w.cols));
  for (int64_t r0 = 0; r0 < w.rows; r0 += kTileRows) {
    const int64_t tr = std::min(kTileRows, w.rows - r0);
    decode_to_f32(w.dtype, w.row(r0), tr * w.cols, tile.data());
    // Y[:, r0:r0+tr] = X tile^T, written into the strided columns of Y.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(tr),
                cols, 1.0f, x, cols, tile.data(), cols, 0.0f, y + r0, rows);
  }
}

void matmul_reference(const Matrix& w, const float* x, int64_t n, float* y) {
  for (int64_t t = 0; t < n; ++t) matvec_reference(w, x + t * w.cols, y + t * w.rows);
}

}  // namespace gqa::ops

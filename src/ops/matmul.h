#pragma once
// Products with a stored weight matrix W [rows, cols]:
//   matvec: y[r] = sum_c W[r, c] x[c]                 (decode: one token)
//   matmul: Y[t, r] = sum_c X[t, c] W[r, c], t < n     (prefill: n tokens; Y = X W^T)
// Each fast kernel has a scalar reference next to it; tests compare them on odd sizes.
#include <cstdint>
#include <span>
#include <string>

#include "ops/matrix.h"

namespace gqa::ops {

// On bf16 weights with AVX512-BF16 (cpu_features().avx512bf16) the inputs are rounded to bf16
// and multiplied with bf16 dot products (products exact, f32 sums): matvec and matmul_rowwise
// by ops/matvec_avx512bf16.h, matmul by oneDNN (ops/matmul_onednn.h). Everywhere else, and for
// f32 and f16 weights, the weights are widened to f32 and the inputs stay f32 (the *_widened
// functions, callable directly for tests and benchmarks).
void matvec(const Matrix& w, const float* x, float* y);
void matvec_reference(const Matrix& w, const float* x, float* y);

// Prefill: n rows at once. Widened: f32 weights go to one OpenBLAS sgemm; bf16/f16 ones are
// widened tile by tile (a block of rows at a time) into a small f32 buffer multiplied with
// sgemm, so the whole matrix is never copied to f32.
void matmul(const Matrix& w, const float* x, int64_t n, float* y);
void matmul_widened(const Matrix& w, const float* x, int64_t n, float* y);
// Decode batches: n rows, each computed exactly as matvec would compute it alone (so a batched
// decode step gives every sequence the logits it would get by itself), with W read once for
// all n. Slower than matmul for long prompts; meant for n up to a few dozen.
void matmul_rowwise(const Matrix& w, const float* x, int64_t n, float* y);
void matmul_rowwise_widened(const Matrix& w, const float* x, int64_t n, float* y);
// Several products of the same input (q/k/v, gate/up): y_i = matmul_rowwise(*w_i, x, n), bit for
// bit, with the bf16 path's rows of all of them in one parallel loop (one hand-off between the
// threads instead of one per matrix, and the short k/v matrices inside one long stream).
struct Projection {
  const Matrix* w;
  float* y;
};
void matmul_rowwise_shared_input(std::span<const Projection> ps, const float* x, int64_t n);
void matmul_reference(const Matrix& w, const float* x, int64_t n, float* y);

// How products on weights of this dtype are computed on this CPU, for reports: "bf16 products
// (AVX512-BF16; prefill oneDNN)" or "f32 products (weights widened)".
std::string product_path(DType weights);

// Threads for OpenMP kernels and OpenBLAS.
void set_threads(int n);

}  // namespace gqa::ops

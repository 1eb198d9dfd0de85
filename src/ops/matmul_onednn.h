#pragma once
// Prefill products on bf16 weights through oneDNN's matmul (its brgemm kernels on AVX512-BF16):
// Y [n, rows] = bf16(X) [n, cols] W^T, f32 accumulation and output. W is read where it lies
// (the checkpoint's row-major [rows, cols], which oneDNN takes as a transposed [cols, rows]), so
// no packed copy of the model is kept; the activations are rounded to bf16 once per call.
#include <cstdint>

namespace gqa::ops {

// True when the CPU has AVX512-BF16 (cpu_features()) and oneDNN has a native kernel for this
// product on it (decided once, on a small probe). Otherwise callers take the f32 path.
bool have_matmul_onednn_bf16();

// y[t * rows + r] = sum_c W[r, c] bf16(x[t * cols + c]); w bf16 [rows, cols] row-major.
// Primitives are cached per shape. Returns false, writing nothing, when oneDNN has no native
// kernel for this shape (the caller then takes the f32 path).
bool matmul_onednn_bf16(const uint16_t* w, int64_t rows, int64_t cols, const float* x, int64_t n,
                        float* y);

}  // namespace gqa::ops

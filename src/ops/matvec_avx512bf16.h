#pragma once
// The AVX512-BF16 kernel behind matvec and matmul_rowwise on bf16 weights: the input rows are
// rounded to bf16 once, then `vdpbf16ps` multiplies 32 weights by 32 inputs per instruction
// (each product exact in f32, pairs summed into 16 f32 lanes). A weight row is read once for up
// to 6 input rows; each (row, input) sum goes through the same instructions whatever the batch,
// so a row of a batched product equals matvec bit for bit.
#include <cstdint>

namespace gqa::ops {

// True when cpu_features() has AVX512-BF16; the functions below must not be called otherwise.
bool have_matvec_avx512bf16();

// Columns of one input row in the rounded buffer: cols rounded up to 32, zero padded.
int64_t bf16_input_stride(int64_t cols);
// x [n, cols] rounded to bf16 (nearest even) in the calling thread's buffer: row t at
// t * bf16_input_stride(cols), zeros up to the stride. The buffer grows and never shrinks (decode
// steps allocate nothing); it stays valid until this thread's next call, and other threads (the
// OpenMP workers) may read it meanwhile.
const uint16_t* round_inputs_to_bf16(const float* x, int64_t n, int64_t cols);

// y[t * rows + r] = sum_c W[r, c] xb[t * stride + c] for r in [r0, r1), t < n, with W bf16
// [rows, cols] row-major and xb from round_inputs_to_bf16.
void matvec_rows_avx512bf16(const uint16_t* w, int64_t rows, int64_t cols, const uint16_t* xb,
                            int64_t n, int64_t r0, int64_t r1, float* y);

}  // namespace gqa::ops

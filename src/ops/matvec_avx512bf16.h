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
// xb[t * stride + c] = bf16(x[t * cols + c]) (round to nearest even), zeros up to the stride.
// xb holds n * bf16_input_stride(cols) values.
void round_inputs_to_bf16(const float* x, int64_t n, int64_t cols, uint16_t* xb);

// y[t * rows + r] = sum_c W[r, c] xb[t * stride + c] for r in [r0, r1), t < n, with W bf16
// [rows, cols] row-major and xb from round_inputs_to_bf16.
void matvec_rows_avx512bf16(const uint16_t* w, int64_t rows, int64_t cols, const uint16_t* xb,
                            int64_t n, int64_t r0, int64_t r1, float* y);

}  // namespace gqa::ops

#pragma once
// The AVX-512 kernel behind matvec and matmul_rowwise: 16 weight rows against one input row at
// a time, one 16-lane accumulator per weight row, then one shuffle tree that sums all 16
// accumulators at once (instead of 16 separate horizontal sums). Every output is summed in the
// same order whatever the batch, so a row of a batched product equals matvec bit for bit.
#include <cstdint>

#include "core/dtype.h"

namespace gqa::ops {

// True when cpu_features() allows AVX-512; the kernel must not be called otherwise.
bool have_matvec_avx512();

// y[t * rows + r] = sum_c W[r, c] x[t * cols + c] for r in [r0, r1), t < n. W is f32, bf16 or
// f16 ([rows, cols], row-major).
void matvec_rows_avx512(DType dtype, const void* w, int64_t rows, int64_t cols, const float* x,
                        int64_t n, int64_t r0, int64_t r1, float* y);

}  // namespace gqa::ops

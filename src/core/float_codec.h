#pragma once
// Decoding stored floating-point tensors to f32 and encoding f32 back, for the dtypes weights
// come in: F32, F16, BF16 (round to nearest even). Other dtypes throw Error (kUnsupported).
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace gqa {

bool is_float_weight_dtype(DType t);  // F32, F16 or BF16

// dst[i] = value of element i of src, for n elements of dtype t.
void decode_to_f32(DType t, const std::byte* src, int64_t n, float* dst);
// Element i of dst (dtype t) = src[i] rounded to nearest even.
void encode_from_f32(DType t, const float* src, int64_t n, std::byte* dst);

}  // namespace gqa

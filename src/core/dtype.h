#pragma once
// Element types of stored tensors (safetensors names) and their sizes.
#include <cstdint>
#include <string>
#include <string_view>

namespace gqa {

enum class DType { kF32, kF16, kBF16, kF8E4M3, kF8E5M2, kI8, kU8, kI32, kI64 };

int64_t dtype_size(DType t);                 // bytes per element
std::string_view dtype_name(DType t);        // "f32", "bf16", "fp8-e4m3", ...
std::string_view safetensors_name(DType t);  // "F32", "BF16", "F8_E4M3", ...
// config.json's torch_dtype for a weight dtype: "float32", "float16", "bfloat16", ...
std::string_view torch_dtype_name(DType t);

// Accepts gqa names ("f32", "bf16", "fp8", "fp8-e5m2", "int8"), safetensors names ("BF16") and
// torch names ("bfloat16", "float16", "float32"). Throws Error naming the accepted spellings.
DType parse_dtype(std::string_view s);

}  // namespace gqa

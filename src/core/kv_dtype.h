#pragma once
// Storage formats of the KV cache and what one head's vector of head_dim values costs in each.
// Shared by the planner (src/plan) and, later, the cache itself (src/kv), so that what the
// planner predicts and what the cache holds are computed by the same function.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gqa {

enum class KvDtype {
  kF32,
  kF16,
  kBF16,
  kF8E4M3,  // "fp8": 1 byte per value, no scale
  kF8E5M2,
  kInt8,  // symmetric, one f32 scale per token per KV head
  kQ8_0,  // llama.cpp blocks of 32 values: f16 scale + 32 x int8 = 34 bytes (8.5 bits/value)
  kQ4_0,  // llama.cpp blocks of 32 values: f16 scale + 32 x 4 bit = 18 bytes (4.5 bits/value)
};

std::string_view kv_dtype_name(KvDtype t);
// Accepts f32, f16, bf16, fp8 (= fp8-e4m3), fp8-e4m3, fp8-e5m2, int8, q8_0, q4_0.
KvDtype parse_kv_dtype(std::string_view s);
const std::vector<KvDtype>& all_kv_dtypes();

// Bytes to store one token's K (or V) vector of one KV head: head_dim values plus per-vector
// scales. Block formats (q8_0, q4_0) round head_dim up to whole blocks of 32.
int64_t kv_vector_bytes(KvDtype t, int64_t head_dim);

// Effective storage cost in bits per value for a vector of head_dim values, scales included
// (int8 at head_dim 128: 8.25; q8_0: 8.5; f16: 16).
double kv_bits_per_value(KvDtype t, int64_t head_dim);

// One line for humans: "int8 (8 bits/value + one f32 scale per token per KV head)".
std::string kv_dtype_description(KvDtype t);

}  // namespace gqa

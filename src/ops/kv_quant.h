#pragma once
// Storing K and V vectors in the cache's dtype and reading them back. One stored vector is one
// token's K (or V) for one KV head: head_dim values, plus for int8 a leading f32 scale.
//   f32, f16, bf16: round to nearest even; values beyond the format's range saturate to its
//                   largest finite value instead of becoming infinity.
//   fp8-e4m3 (e4m3fn: bias 7, max 448, no infinity) and fp8-e5m2 (bias 15, max 57344): round
//                   to nearest even, saturate.
//   int8:           symmetric, scale = max|x| / 127 per vector, q = round(x / scale).
// Sizes match core/kv_dtype.h's kv_vector_bytes, which the planner uses.
#include <cstddef>
#include <cstdint>

#include "core/kv_dtype.h"

namespace gqa::ops {

uint8_t f32_to_e4m3(float x);
float e4m3_to_f32(uint8_t v);
uint8_t f32_to_e5m2(float x);
float e5m2_to_f32(uint8_t v);

// Throws Error for the block formats (q8_0, q4_0), which only the planner knows.
void check_cache_dtype(KvDtype t);

// x: head_dim floats -> out: kv_vector_bytes(t, head_dim) bytes.
void encode_kv_vector(KvDtype t, const float* x, int64_t head_dim, std::byte* out);
// `count` stored vectors, `stride` bytes apart -> out: [count][head_dim] floats.
void decode_kv_vectors(KvDtype t, const std::byte* in, int64_t count, int64_t head_dim,
                       size_t stride, float* out);

// K runs are stored dimension-major (see kv/kv_layout.h): a run of block_size keys holds, for
// int8, block_size f32 scales first, then the elements. Element (d, slot) sits at
//   f32, f16, bf16, fp8:  kv_element_bytes * (d * block_size + slot): one dimension of 16
//                         consecutive tokens is one load;
//   int8:                 4 * (d / 4 * block_size + slot) + d % 4 for d below head_dim rounded
//                         down to 4 (then as above): four dimensions of a token are one 32-bit
//                         lane, so one load of 16 tokens' quads feeds 16 lanes of VNNI dot
//                         products (u8 x s8 -> s32, four products per lane).
// The same bytes as block_size stored vectors.
size_t kv_element_bytes(KvDtype t);
size_t k_run_scale_bytes(KvDtype t, int64_t block_size);
size_t k_element_offset(KvDtype t, int64_t head_dim, int64_t block_size, int64_t d, int64_t slot);
// x: head_dim floats -> the key at `slot` of k_run, encoded exactly as encode_kv_vector does.
void encode_k_slot(KvDtype t, const float* x, int64_t head_dim, int64_t block_size, int64_t slot,
                   std::byte* k_run);
// Keys first_slot .. first_slot + count - 1 of k_run -> out: [count][head_dim] floats.
void decode_k_slots(KvDtype t, const std::byte* k_run, int64_t head_dim, int64_t block_size,
                    int64_t first_slot, int64_t count, float* out);

// Scores against int8 keys use the query rounded like an int8 vector (symmetric, scale =
// max|q| / 127), so that they are integer dot products: q (head_dim floats) is rewritten to
// its rounded values; ints (if not null) gets the integers. Returns the scale.
float round_query_int8(float* q, int64_t head_dim, int8_t* ints);

}  // namespace gqa::ops

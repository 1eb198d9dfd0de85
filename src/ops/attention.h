#pragma once
// Causal attention of one token over a contiguous per-layer KV cache, GQA by index mapping:
// query head h reads KV head h / n_rep; the K/V of a group are never copied per query head.
#include <cstdint>

namespace gqa::ops {

struct AttentionShape {
  int64_t heads = 0;     // query heads H
  int64_t kv_heads = 0;  // h_kv, divides H
  int64_t head_dim = 0;
  int64_t capacity = 0;  // positions the cache holds per KV head
  int64_t window = 0;    // sliding window in tokens; 0: full attention
};

// q: [heads, head_dim] at position pos; k_cache, v_cache: [kv_heads, capacity, head_dim], holding
// positions 0..pos. out: [heads, head_dim]. scores: scratch of capacity floats per thread.
void attend(const AttentionShape& s, const float* q, const float* k_cache, const float* v_cache,
            int64_t pos, float* out);

// The same written plainly (double accumulation), for tests.
void attend_reference(const AttentionShape& s, const float* q, const float* k_cache,
                      const float* v_cache, int64_t pos, float* out);

}  // namespace gqa::ops

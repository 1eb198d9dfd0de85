#pragma once
// Which source KV heads make up each target KV head. Groups are contiguous: target head g pools
// source heads [g * r, (g + 1) * r) with r = source / target, so query head h, which read source
// head h / (H / source), now reads target head h / (H / target), as HF repeat_kv assumes.
#include <cstdint>
#include <string>

namespace gqa::convert {

enum class PoolMethod {
  kMean,    // average the group's heads (the GQA paper's choice)
  kFirst,   // keep the group's first head
  kRandom,  // draw fresh weights at the source's scale
  kSvd,     // RoPE-aware rank-1 key merge and o_proj-weighted value merge (key_merge.h,
            // value_merge.h), folded into q_proj and o_proj
};

PoolMethod parse_pool_method(const std::string& s);  // "mean", "first", "random", "svd"
const char* pool_method_name(PoolMethod m);

enum class Grouping {
  kContiguous,  // target head g takes source heads [g * r, (g + 1) * r)
  kSimilar,     // groups chosen by similarity, heads permuted to make them contiguous
};

Grouping parse_grouping(const std::string& s);  // "contiguous", "similar"
const char* grouping_name(Grouping g);

struct GroupPlan {
  int64_t source_kv_heads = 0;
  int64_t target_kv_heads = 0;
  int64_t head_dim = 0;

  int64_t group_size() const { return source_kv_heads / target_kv_heads; }
  int64_t first_source_head(int64_t target_head) const { return target_head * group_size(); }
};

// Throws Error when target does not divide source (the message lists the valid counts).
GroupPlan make_group_plan(int64_t source_kv_heads, int64_t target_kv_heads, int64_t head_dim);

}  // namespace gqa::convert

#pragma once
// Which source KV heads share a target head (gqa convert --grouping). Contiguous groups are what
// HF repeat_kv reads; a similarity grouping picks other groups and then permutes the heads so
// that each group is contiguous again. A permutation of KV heads, with the query heads that
// read them (q_proj rows, o_proj columns, biases), is an exact rewrite of the model: per-head
// q/k norms are shared by all heads and need no change.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "convert/attention_weights.h"

namespace gqa::convert {

// Groups of S / G heads minimising the sum of pair_cost(a, b) over the pairs inside each group:
// pairwise swaps between groups from the contiguous grouping while one lowers the sum (so
// contiguous is kept when nothing beats it). Returns the new head order: the groups one after
// another, each ascending, ordered by their first head.
std::vector<int64_t> similar_head_order(int64_t kv_heads, int64_t target_kv_heads,
                                        const std::function<double(int64_t, int64_t)>& pair_cost);

// KV head n of the result is KV head order[n] of `w`, and query head n * n_rep + i is query
// head order[n] * n_rep + i.
void permute_kv_heads(AttentionWeights& w, std::span<const int64_t> order);

}  // namespace gqa::convert

#pragma once
// One layer's attention converted as a whole (gqa convert --method svd, --grouping similar):
// loaded into f64, grouped (and permuted), merged, with q_proj and o_proj rewritten. The
// streaming row pooling of pooling.h covers the other cases without loading a layer.
#include <cstdint>
#include <optional>
#include <vector>

#include "convert/attention_weights.h"
#include "convert/group_plan.h"
#include "core/matrix_view.h"

namespace gqa::convert {

// The attention tensors of one layer as stored. A fused qkv_proj gives three row views.
struct StoredAttention {
  MatrixView q, k, v;  // [H * d, hidden], [S * d, hidden], [S * d, hidden]
  MatrixView o;        // [hidden, H * d]
  std::optional<MatrixView> q_bias, k_bias, v_bias;  // [rows, 1]; all or none
};

AttentionWeights load_attention(const StoredAttention& s, int64_t heads, int64_t kv_heads,
                                int64_t head_dim);

struct LayerConversion {
  PoolMethod method = PoolMethod::kSvd;  // kSvd, kMean or kFirst
  Grouping grouping = Grouping::kContiguous;
  int64_t rotary_dim = 0;               // values per head RoPE rotates
  const InputMoment* moment = nullptr;  // null: identity (weights alone)
};

struct RewrittenAttention {
  AttentionWeights w;          // kv_heads = the target; q (svd) and o (svd) rewritten
  std::vector<int64_t> order;  // source KV heads in group order: target g has r of them
};

// Throws Error (kInvalidArgument) for kRandom or a target that does not divide the heads.
RewrittenAttention rewrite_attention(AttentionWeights w, const GroupPlan& plan,
                                     const LayerConversion& how);

}  // namespace gqa::convert

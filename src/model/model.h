#pragma once
// A decoder of one of the families gqa runs (Llama, Mistral, Qwen2, Qwen3, Phi-3, SmolLM3,
// Gemma 3) loaded from a checkpoint folder: the config, and the weight matrices copied once onto
// huge pages (model/resident_weights.h). Read-only after loading; shared by threads and sessions.
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "config/model_config.h"
#include "core/huge_buffer.h"
#include "io/checkpoint.h"
#include "ops/matrix.h"
#include "ops/rope.h"

namespace gqa::model {

// A layer's rotary embedding: one table, or Phi-3 longrope's two (the long one for a forward
// call ending past `switch_at` positions; config/rope_frequencies.h).
struct LayerRope {
  ops::Rope base;
  std::optional<ops::Rope> long_context;
  int64_t switch_at = 0;
  // The table for a call whose last position is last_pos.
  const ops::Rope& for_call(int64_t last_pos) const {
    return long_context && last_pos + 1 > switch_at ? *long_context : base;
  }
};

struct LayerWeights {
  // Phi-3's fused qkv_proj and gate_up_proj are read as row ranges of the stored matrix.
  ops::Matrix wq, wk, wv, wo;  // [q_dim, hidden], [kv_dim, hidden] x2, [hidden, q_dim]
  ops::Matrix gate, up, down;  // [ff, hidden] x2, [hidden, ff]
  // Small vectors, widened to f32 at load, Gemma's (1 + w) norms with the 1 added. Empty when
  // the architecture has none.
  std::vector<float> attn_norm, mlp_norm;            // [hidden]: before attention, before MLP
  std::vector<float> post_attn_norm, post_mlp_norm;  // [hidden]: on their outputs (Gemma 3)
  std::vector<float> q_norm, k_norm;                 // [head_dim] (Qwen3, Gemma 3)
  std::vector<float> bq, bk, bv, bo;                 // [q_dim], [kv_dim] x2, [hidden]
  int64_t window = 0;                                // sliding window in tokens; 0: full attention
  const LayerRope* rope = nullptr;                   // null: no RoPE (SmolLM3's no_rope_layers)
};

class Model {
 public:
  // Loads and checks every tensor the config implies. Throws Error naming what is wrong, or
  // kUnsupported naming a config setting the runtime does not implement.
  explicit Model(const std::filesystem::path& dir);

  const ModelConfig& config() const { return config_; }
  const std::vector<LayerWeights>& layers() const { return layers_; }
  const ops::Matrix& embed() const { return embed_; }      // [vocab, hidden]
  const ops::Matrix& lm_head() const { return lm_head_; }  // [vocab, hidden]; embed when tied
  const std::vector<float>& final_norm() const { return final_norm_; }
  // x * embed_scale is a token's input row (Gemma 3: sqrt(hidden) rounded to the weights' dtype).
  float embed_scale() const { return embed_scale_; }
  // Queries are multiplied by this before attention (which divides by sqrt(head_dim)), so that
  // scores scale by query_pre_attn_scalar^-1/2 (Gemma 3); 1 for the other families.
  float query_scale() const { return query_scale_; }
  const std::filesystem::path& dir() const { return checkpoint_.dir(); }
  // Bytes of weights one decode step reads (every matrix once, the embedding row aside).
  int64_t weight_bytes_per_token() const;

 private:
  io::Checkpoint checkpoint_;
  ModelConfig config_;
  std::vector<LayerWeights> layers_;
  ops::Matrix embed_, lm_head_;  // like every layer's matrices, pointing into weights_
  HugeBuffer weights_;
  std::vector<float> final_norm_;
  std::vector<std::unique_ptr<LayerRope>> ropes_;  // the distinct tables the layers point to
  float embed_scale_ = 1.0f;
  float query_scale_ = 1.0f;
};

}  // namespace gqa::model

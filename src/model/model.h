#pragma once
// A Llama-family decoder loaded from a checkpoint folder: the config and views of the weights
// in the mapped safetensors files. Read-only after loading; shared by threads and sessions.
#include <filesystem>
#include <vector>

#include "config/model_config.h"
#include "io/checkpoint.h"
#include "ops/matrix.h"
#include "ops/rope.h"

namespace gqa::model {

struct LayerWeights {
  ops::Matrix wq, wk, wv, wo;  // [q_dim, hidden], [kv_dim, hidden] x2, [hidden, q_dim]
  ops::Matrix gate, up, down;  // [ff, hidden] x2, [hidden, ff]
  // Small vectors, widened to f32 at load. Empty when the architecture has none.
  std::vector<float> attn_norm, mlp_norm;  // [hidden]
  std::vector<float> q_norm, k_norm;       // [head_dim] (Qwen3)
  std::vector<float> bq, bk, bv, bo;       // [q_dim], [kv_dim] x2, [hidden]
  int64_t window = 0;                      // sliding window in tokens; 0: full attention
};

class Model {
 public:
  // Loads and checks every tensor the config implies. Throws Error naming what is wrong, or
  // kUnsupported for architectures the runtime does not run (Gemma 3, Phi-3, SmolLM3).
  explicit Model(const std::filesystem::path& dir);

  const ModelConfig& config() const { return config_; }
  const std::vector<LayerWeights>& layers() const { return layers_; }
  const ops::Matrix& embed() const { return embed_; }      // [vocab, hidden]
  const ops::Matrix& lm_head() const { return lm_head_; }  // [vocab, hidden]; embed when tied
  const std::vector<float>& final_norm() const { return final_norm_; }
  const ops::Rope& rope() const { return rope_; }
  const std::filesystem::path& dir() const { return checkpoint_.dir(); }
  // Bytes of weights one decode step reads (every matrix once, the embedding row aside).
  int64_t weight_bytes_per_token() const;

 private:
  io::Checkpoint checkpoint_;
  ModelConfig config_;
  std::vector<LayerWeights> layers_;
  ops::Matrix embed_, lm_head_;
  std::vector<float> final_norm_;
  ops::Rope rope_;
};

}  // namespace gqa::model

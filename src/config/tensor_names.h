#pragma once
// The tensors a Hugging Face checkpoint of a ModelConfig holds: names, shapes and the role each
// plays. Used to check a checkpoint (inspect), to create one (init) and to find the K/V
// projections a conversion pools.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "config/model_config.h"

namespace gqa {

enum class TensorRole {
  kOther,     // copied unchanged by a conversion
  kQProj,     // [q_dim, hidden]; copied, except by methods that fold maps into it
  kQBias,     // [q_dim]
  kOProj,     // [hidden, q_dim]
  kKProj,     // [kv_dim, hidden]
  kVProj,     // [kv_dim, hidden]
  kKBias,     // [kv_dim]
  kVBias,     // [kv_dim]
  kQkvFused,  // Phi-3: [q_dim + 2 * kv_dim, hidden]; rows q | k | v
};

enum class InitKind { kNormal, kNormalScaled, kOnes, kZeros };  // how `gqa init` fills it

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  TensorRole role = TensorRole::kOther;
  int64_t layer = -1;  // -1 outside the decoder layers
  InitKind init = InitKind::kNormal;
};

// Where the language model's tensors live: "model." for causal LMs; multimodal Gemma 3 keeps
// them under "language_model.model." or "model.language_model.".
struct TensorPrefix {
  std::string body = "model.";  // + "embed_tokens.weight", "layers.0....", "norm.weight"
  std::string head = "";        // + "lm_head.weight"
};

// The prefix whose embed_tokens.weight is among `names`; the default when none is.
TensorPrefix detect_prefix(const std::set<std::string>& names);

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& m,
                                             const TensorPrefix& prefix = TensorPrefix{});

}  // namespace gqa

#pragma once
// Writing config.json: a fresh one for a ModelConfig (gqa init, llama2.c import), or the
// source's own with a new KV-head count (gqa convert), every other field kept as it was.
#include <optional>
#include <string>

#include "config/model_config.h"

namespace gqa {

// A config.json that load_hf_config reads back to an equal ModelConfig (name aside).
std::string to_hf_config_json(const ModelConfig& m);

// `text` with num_key_value_heads set to kv_heads (inside text_config when the model is nested)
// and, when given, torch_dtype replaced. Key order is kept. Throws Error for malformed JSON.
std::string regroup_hf_config_json(const std::string& text, int64_t kv_heads,
                                   const std::optional<std::string>& torch_dtype);

}  // namespace gqa

#include "config/hf_config_writer.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_parse.h"

namespace gqa {
namespace {

const char* model_type(Architecture a) {
  switch (a) {
    case Architecture::kLlama:
      return "llama";
    case Architecture::kMistral:
      return "mistral";
    case Architecture::kQwen2:
      return "qwen2";
    case Architecture::kQwen3:
      return "qwen3";
    case Architecture::kPhi3:
      return "phi3";
    case Architecture::kSmolLM3:
      return "smollm3";
    case Architecture::kGemma3:
      return "gemma3_text";
  }
  return "llama";
}

}  // namespace

std::string to_hf_config_json(const ModelConfig& m) {
  nlohmann::ordered_json j;
  j["architectures"] = {std::string(architecture_name(m.arch))};
  j["model_type"] = model_type(m.arch);
  j["hidden_size"] = m.hidden;
  j["intermediate_size"] = m.intermediate;
  j["num_hidden_layers"] = m.layers;
  j["num_attention_heads"] = m.heads;
  j["num_key_value_heads"] = m.kv_heads;
  j["head_dim"] = m.head_dim;
  j["vocab_size"] = m.vocab;
  j["max_position_embeddings"] = m.max_positions;
  j["rms_norm_eps"] = m.norm_eps;
  j["rope_theta"] = m.rope_theta;
  if (m.rope_scaling) {
    const RopeScaling& rs = *m.rope_scaling;
    nlohmann::ordered_json r;
    r["rope_type"] = rs.type;
    if (rs.factor) r["factor"] = *rs.factor;
    if (rs.type == "llama3") {
      r["low_freq_factor"] = rs.low_freq_factor;
      r["high_freq_factor"] = rs.high_freq_factor;
    }
    if (rs.original_max_positions > 0)
      r["original_max_position_embeddings"] = rs.original_max_positions;
    if (!rs.short_factor.empty()) r["short_factor"] = rs.short_factor;
    if (!rs.long_factor.empty()) r["long_factor"] = rs.long_factor;
    if (rs.attention_factor) r["attention_factor"] = *rs.attention_factor;
    j["rope_scaling"] = r;
  } else {
    j["rope_scaling"] = nullptr;
  }
  if (m.original_max_positions > 0)
    j["original_max_position_embeddings"] = m.original_max_positions;
  if (m.partial_rotary_factor != 1.0) j["partial_rotary_factor"] = m.partial_rotary_factor;
  if (m.arch == Architecture::kSmolLM3) {
    nlohmann::ordered_json rope = nlohmann::ordered_json::array();
    for (int64_t l = 0; l < m.layers; ++l) rope.push_back(m.uses_rope(l) ? 1 : 0);
    j["no_rope_layers"] = rope;
  }
  const char* act = m.hidden_act == Activation::kGeluTanh ? "gelu_pytorch_tanh" : "silu";
  if (m.arch == Architecture::kGemma3) {
    j["rope_local_base_freq"] = m.rope_local_theta;
    j["hidden_activation"] = act;
    j["query_pre_attn_scalar"] =
        m.query_pre_attn_scalar > 0 ? m.query_pre_attn_scalar : static_cast<double>(m.head_dim);
    j["final_logit_softcapping"] =
        m.final_logit_softcapping ? nlohmann::ordered_json(*m.final_logit_softcapping) : nullptr;
  } else {
    j["hidden_act"] = act;
  }
  j["tie_word_embeddings"] = m.tie_embeddings;
  if (m.arch != Architecture::kQwen2) j["attention_bias"] = m.attention_bias;
  j["sliding_window"] = m.sliding_window ? nlohmann::ordered_json(*m.sliding_window) : nullptr;
  if (m.sliding_window) {
    nlohmann::ordered_json types = nlohmann::ordered_json::array();
    for (auto t : m.layer_types)
      types.push_back(t == LayerAttention::kSliding ? "sliding_attention" : "full_attention");
    j["layer_types"] = types;
  }
  if (m.bos_token_id) j["bos_token_id"] = *m.bos_token_id;
  if (m.eos_token_ids.size() == 1) j["eos_token_id"] = m.eos_token_ids[0];
  if (m.eos_token_ids.size() > 1) j["eos_token_id"] = m.eos_token_ids;
  if (!m.torch_dtype.empty()) j["torch_dtype"] = m.torch_dtype;
  return j.dump(2) + "\n";
}

std::string regroup_hf_config_json(const std::string& text, int64_t kv_heads,
                                   const std::optional<std::string>& torch_dtype) {
  if (json_depth(text) > kMaxJsonDepth)
    fail(ErrorKind::kParse, "config.json: JSON nested too deep");
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kParse, std::string("config.json: malformed JSON: ") + e.what());
  }
  const bool nested = j.contains("text_config") && j["text_config"].is_object();
  (nested ? j["text_config"] : j)["num_key_value_heads"] = kv_heads;
  if (torch_dtype) {
    j["torch_dtype"] = *torch_dtype;
    if (j.contains("dtype")) j["dtype"] = *torch_dtype;
  }
  return j.dump(2) + "\n";
}

}  // namespace gqa

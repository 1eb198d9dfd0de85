#include "config/model_config.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "core/checked_math.h"
#include "core/error.h"

namespace gqa {
namespace {

void check_range(const std::string& field, int64_t v, int64_t max) {
  if (v <= 0)
    fail(ErrorKind::kInvalidArgument, field + " must be positive, got " + std::to_string(v));
  if (v > max)
    fail(ErrorKind::kInvalidArgument, field + " = " + std::to_string(v) +
                                          " is beyond any real model (at most " +
                                          std::to_string(max) + ")");
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The factors a rope_scaling object may hold: finite, positive, and for llama3 a band
// low_freq_factor < high_freq_factor over a positive original context (both are divided by);
// longrope's per-pair factors, one per rotated pair.
void check_rope_scaling(const RopeScaling& s, int64_t rotary_dim) {
  auto positive = [&](const std::string& field, double v) {
    if (!(v > 0 && v <= 1e6))
      fail(ErrorKind::kInvalidArgument,
           "rope_scaling " + field + " = " + number(v) + " is outside (0, 1e6]");
  };
  if (s.factor) positive("factor", *s.factor);
  if (s.attention_factor) positive("attention_factor", *s.attention_factor);
  positive("low_freq_factor", s.low_freq_factor);
  positive("high_freq_factor", s.high_freq_factor);
  if (s.original_max_positions < 0 || s.original_max_positions > kMaxPositions)
    fail(ErrorKind::kInvalidArgument,
         "rope_scaling original_max_position_embeddings is outside [0, 2^34]");
  if (s.type == "llama3") {
    if (!(s.high_freq_factor > s.low_freq_factor))
      fail(ErrorKind::kInvalidArgument,
           "rope_scaling high_freq_factor must be larger than low_freq_factor");
    if (s.original_max_positions <= 0)
      fail(ErrorKind::kInvalidArgument,
           "rope_scaling type llama3 needs a positive original_max_position_embeddings");
  }
  if (s.type == "longrope") {
    for (const auto* list : {&s.short_factor, &s.long_factor}) {
      const char* name = list == &s.short_factor ? "short_factor" : "long_factor";
      if (static_cast<int64_t>(list->size()) != rotary_dim / 2)
        fail(ErrorKind::kInvalidArgument, std::string("rope_scaling ") + name + " has " +
                                              std::to_string(list->size()) + " factors; the " +
                                              std::to_string(rotary_dim) + " rotated values need " +
                                              std::to_string(rotary_dim / 2));
      for (double f : *list) positive(name, f);
    }
  }
}

}  // namespace

std::string_view architecture_name(Architecture a) {
  switch (a) {
    case Architecture::kLlama:
      return "LlamaForCausalLM";
    case Architecture::kMistral:
      return "MistralForCausalLM";
    case Architecture::kQwen2:
      return "Qwen2ForCausalLM";
    case Architecture::kQwen3:
      return "Qwen3ForCausalLM";
    case Architecture::kPhi3:
      return "Phi3ForCausalLM";
    case Architecture::kSmolLM3:
      return "SmolLM3ForCausalLM";
    case Architecture::kGemma3:
      return "Gemma3ForCausalLM";
  }
  return "?";
}

std::vector<int64_t> valid_kv_head_counts(int64_t heads) {
  std::vector<int64_t> v;
  for (int64_t g = heads; g >= 1; --g)
    if (heads % g == 0) v.push_back(g);
  return v;
}

std::string join_counts(const std::vector<int64_t>& v) {
  std::vector<int64_t> asc(v.rbegin(), v.rend());
  std::string s;
  for (size_t i = 0; i < asc.size(); ++i) s += (i ? ", " : "") + std::to_string(asc[i]);
  return s;
}

void ModelConfig::validate() const {
  check_range("num_hidden_layers", layers, kMaxLayers);
  check_range("num_attention_heads", heads, kMaxHeads);
  check_range("num_key_value_heads", kv_heads, kMaxHeads);
  check_range("head_dim", head_dim, kMaxHeadDim);
  check_range("hidden_size", hidden, kMaxHidden);
  if (intermediate != 0) check_range("intermediate_size", intermediate, kMaxHidden * 16);
  if (vocab != 0) check_range("vocab_size", vocab, kMaxVocab);
  if (kv_heads > heads)
    fail(ErrorKind::kInvalidArgument,
         "num_key_value_heads = " + std::to_string(kv_heads) +
             " exceeds num_attention_heads = " + std::to_string(heads));
  if (heads % kv_heads != 0)
    fail(ErrorKind::kInvalidArgument,
         "num_attention_heads = " + std::to_string(heads) +
             " is not divisible by num_key_value_heads = " + std::to_string(kv_heads) +
             " (valid KV head counts: " + join_counts(valid_kv_head_counts(heads)) + ")");
  // NaN fails every comparison, so each check is written to hold only for good values.
  if (!(rope_theta >= 1 && rope_theta <= kMaxRopeTheta))
    fail(ErrorKind::kInvalidArgument,
         "rope_theta = " + number(rope_theta) + " is outside [1, 1e12]");
  if (!(rope_local_theta == 0 || (rope_local_theta >= 1 && rope_local_theta <= kMaxRopeTheta)))
    fail(ErrorKind::kInvalidArgument,
         "rope_local_base_freq = " + number(rope_local_theta) + " is outside [1, 1e12]");
  if (!(norm_eps > 0 && norm_eps <= 1))
    fail(ErrorKind::kInvalidArgument, "rms_norm_eps = " + number(norm_eps) + " is outside (0, 1]");
  if (!(partial_rotary_factor > 0 && partial_rotary_factor <= 1))
    fail(ErrorKind::kInvalidArgument, "partial_rotary_factor must be in (0, 1]");
  if (rope_scaling) check_rope_scaling(*rope_scaling, rotary_dim());
  if (original_max_positions < 0 || original_max_positions > kMaxPositions)
    fail(ErrorKind::kInvalidArgument, "original_max_position_embeddings is outside [0, 2^34]");
  if (!layer_rope.empty() && static_cast<int64_t>(layer_rope.size()) != layers)
    fail(ErrorKind::kInvalidArgument, "no_rope_layers has " + std::to_string(layer_rope.size()) +
                                          " entries for " + std::to_string(layers) + " layers");
  if (!(query_pre_attn_scalar == 0 || (query_pre_attn_scalar > 0 && query_pre_attn_scalar <= 1e9)))
    fail(ErrorKind::kInvalidArgument,
         "query_pre_attn_scalar = " + number(query_pre_attn_scalar) + " is not positive");
  if (final_logit_softcapping && !(*final_logit_softcapping > 0 && *final_logit_softcapping <= 1e9))
    fail(ErrorKind::kInvalidArgument,
         "final_logit_softcapping = " + number(*final_logit_softcapping) + " is not positive");
  if (max_positions < 0 || max_positions > kMaxPositions)
    fail(ErrorKind::kInvalidArgument,
         "max_position_embeddings = " + std::to_string(max_positions) + " is outside [0, 2^34]");
  const int64_t id_limit = vocab > 0 ? vocab : INT32_MAX;
  auto check_id = [&](const char* field, int64_t id) {
    if (id < 0 || id >= id_limit)
      fail(ErrorKind::kInvalidArgument, std::string(field) + " " + std::to_string(id) +
                                            " is not a token id (0 to " +
                                            std::to_string(id_limit - 1) + ")");
  };
  if (bos_token_id) check_id("bos_token_id", *bos_token_id);
  for (int64_t id : eos_token_ids) check_id("eos_token_id", id);
  if (static_cast<int64_t>(layer_types.size()) != layers)
    fail(ErrorKind::kInvalidArgument, "layer_types has " + std::to_string(layer_types.size()) +
                                          " entries for " + std::to_string(layers) + " layers");
  const bool any_sliding = std::find(layer_types.begin(), layer_types.end(),
                                     LayerAttention::kSliding) != layer_types.end();
  if (any_sliding && !sliding_window)
    fail(ErrorKind::kInvalidArgument, "sliding-attention layers but no sliding_window");
  if (sliding_window && (*sliding_window <= 0 || *sliding_window > kMaxPositions))
    fail(ErrorKind::kInvalidArgument, "sliding_window must be in [1, 2^34]");
}

int64_t ModelConfig::rotary_dim() const {
  return static_cast<int64_t>(static_cast<double>(head_dim) * partial_rotary_factor);
}

int64_t ModelConfig::layer_tokens_held(int64_t layer, int64_t ctx) const {
  if (layer_types.at(static_cast<size_t>(layer)) == LayerAttention::kSliding)
    return std::min(ctx, *sliding_window);
  return ctx;
}

int64_t ModelConfig::kv_layer_bytes_per_token(KvDtype dtype) const {
  return checked_mul(2 * kv_heads, kv_vector_bytes(dtype, head_dim), "KV bytes per token");
}

int64_t ModelConfig::kv_bytes_per_token(KvDtype dtype) const {
  return checked_mul(layers, kv_layer_bytes_per_token(dtype), "KV bytes per token");
}

int64_t ModelConfig::parameter_count() const {
  if (intermediate == 0 || vocab == 0)
    fail(ErrorKind::kInvalidArgument,
         "counting parameters needs intermediate_size and vocab_size, which " +
             (name.empty() ? std::string("this model") : name) + " does not give");
  const int64_t q = hidden * q_dim();
  const int64_t kv = 2 * hidden * kv_dim();
  const int64_t o = q_dim() * hidden;
  int64_t attn = q + kv + o;
  if (attention_bias) attn += q_dim() + 2 * kv_dim() + hidden;
  if (qkv_bias) attn += q_dim() + 2 * kv_dim();
  if (qk_norm) attn += 2 * head_dim;
  const int64_t mlp = 3 * hidden * intermediate;  // gate, up, down (SwiGLU / GeGLU)
  // Gemma 3 has four norms per layer (pre/post attention and feed-forward), the rest two.
  const int64_t norms = (arch == Architecture::kGemma3 ? 4 : 2) * hidden;
  const int64_t per_layer = attn + mlp + norms;
  int64_t total = checked_mul(layers, per_layer, "parameter count");
  const int64_t embed = checked_mul(vocab, hidden, "parameter count");
  total = checked_add(total, embed, "parameter count");
  if (!tie_embeddings) total = checked_add(total, embed, "parameter count");
  return checked_add(total, hidden, "parameter count");  // final norm
}

ModelConfig ModelConfig::regrouped(int64_t new_kv_heads) const {
  if (new_kv_heads <= 0 || new_kv_heads > heads || heads % new_kv_heads != 0)
    fail(ErrorKind::kInvalidArgument,
         "--kv-heads " + std::to_string(new_kv_heads) + " does not divide the " +
             std::to_string(heads) + " query heads of " + (name.empty() ? "the model" : name) +
             "; valid KV head counts: " + join_counts(valid_kv_head_counts(heads)));
  ModelConfig c = *this;
  c.kv_heads = new_kv_heads;
  return c;
}

void require_runnable(const ModelConfig& c, const std::string& where, const std::string& who) {
  if (!c.not_implemented.empty())
    fail(ErrorKind::kUnsupported, where + ": " + who + " does not implement the config setting " +
                                      c.not_implemented.front());
  if (c.rotary_dim() % 2 != 0 || c.rotary_dim() <= 0)
    fail(ErrorKind::kUnsupported, where + ": RoPE needs an even rotary dimension; head_dim " +
                                      std::to_string(c.head_dim) + " * partial_rotary_factor " +
                                      number(c.partial_rotary_factor) + " gives " +
                                      std::to_string(c.rotary_dim()));
  if (c.rope_scaling && c.rope_scaling->type != "linear" && c.rope_scaling->type != "llama3" &&
      c.rope_scaling->type != "longrope" && c.rope_scaling->type != "default")
    fail(ErrorKind::kUnsupported, where + ": " + who + " does not implement rope_scaling type '" +
                                      c.rope_scaling->type + "' (default, linear, llama3 and " +
                                      "longrope are)");
}

}  // namespace gqa

#pragma once
// ModelConfig: what a Hugging Face config.json says about a decoder of the families gqa knows
// (Llama, Mistral, Qwen2, Qwen3, Phi-3, SmolLM3, Gemma 3), plus derived quantities as methods.
// head_dim is read from the config, never assumed to be hidden/heads.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/kv_dtype.h"

namespace gqa {

enum class Architecture { kLlama, kMistral, kQwen2, kQwen3, kPhi3, kSmolLM3, kGemma3 };

std::string_view architecture_name(Architecture a);  // the HF class, e.g. "LlamaForCausalLM"

enum class LayerAttention { kFull, kSliding };

struct RopeScaling {
  std::string type;               // "llama3", "linear", "yarn", "dynamic", "longrope", ...
  std::optional<double> factor;   // absent: 1, or for longrope max / original positions
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  int64_t original_max_positions = 0;
  std::vector<double> short_factor, long_factor;  // longrope: one per rotated pair
  std::optional<double> attention_factor;         // longrope: cos and sin are scaled by it
};

// The MLP's gate activation: SiLU (SwiGLU) or the tanh approximation of GELU (Gemma's GeGLU).
enum class Activation { kSilu, kGeluTanh };

// Bounds well beyond any published model: past them a value is a typo or a hostile file, not a
// model. validate() holds every config to them; readers check counts before sizing anything.
inline constexpr int64_t kMaxLayers = 4096;
inline constexpr int64_t kMaxHeads = 16384;
inline constexpr int64_t kMaxHeadDim = 16384;
inline constexpr int64_t kMaxHidden = 1 << 20;
inline constexpr int64_t kMaxVocab = int64_t{1} << 26;
inline constexpr int64_t kMaxPositions = int64_t{1} << 34;
inline constexpr double kMaxRopeTheta = 1e12;

struct ModelConfig {
  std::string name;  // display name: preset name or the folder the config came from
  Architecture arch = Architecture::kLlama;
  int64_t layers = 0;    // num_hidden_layers, L
  int64_t heads = 0;     // num_attention_heads, H (query heads)
  int64_t kv_heads = 0;  // num_key_value_heads, h_kv
  int64_t head_dim = 0;  // d_h
  int64_t hidden = 0;    // hidden_size
  // intermediate_size and vocab_size; 0 means "not known", allowed only for a model described
  // by hand to the planner (every config.json gives them). parameter_count() needs both.
  int64_t intermediate = 0;
  int64_t vocab = 0;
  double rope_theta = 10000.0;
  double rope_local_theta = 0.0;       // Gemma 3 sliding layers (rope_local_base_freq); 0: unused
  double partial_rotary_factor = 1.0;  // share of head_dim that RoPE rotates (Phi-4-mini: 0.75)
  std::optional<RopeScaling> rope_scaling;
  // Phi-3's top-level original_max_position_embeddings (longrope); 0 when not given.
  int64_t original_max_positions = 0;
  std::vector<bool> layer_rope;  // per layer, false: no RoPE (SmolLM3); empty: RoPE everywhere
  Activation hidden_act = Activation::kSilu;
  double query_pre_attn_scalar = 0;  // attention scores scale by its -1/2; 0: head_dim (Gemma 3)
  std::optional<double> final_logit_softcapping;  // logits = cap * tanh(logits / cap)
  // The largest dropout rate the config sets (attention_dropout, resid_pdrop, embd_pdrop, ...):
  // nothing at inference; training does not implement dropout and refuses a positive one.
  double dropout = 0;
  // Config settings the native runtime and the trainer do not implement, one line each
  // ("mlp_bias: true"). The planner can still size such a model; require_runnable refuses it.
  std::vector<std::string> not_implemented;
  double norm_eps = 1e-6;
  int64_t max_positions = 0;
  bool tie_embeddings = false;
  bool attention_bias = false;  // bias on q, k, v and o projections (Llama attention_bias)
  bool qkv_bias = false;        // bias on q, k, v only (Qwen2)
  bool qk_norm = false;         // per-head RMSNorm on q and k (Qwen3, Gemma 3)
  std::optional<int64_t> sliding_window;    // tokens a sliding layer attends to
  std::vector<LayerAttention> layer_types;  // one per layer
  std::string torch_dtype;                  // as written in config.json; may be empty
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config.json allows one id or a list

  // Checks every field once: positive sizes, sane bounds (rope_theta in [1, 1e12], rms_norm_eps
  // in (0, 1], rope_scaling factors positive and finite, token ids in [0, vocab)), heads %
  // kv_heads == 0, one layer type per layer, a window for sliding layers. Throws Error naming
  // the field.
  void validate() const;

  int64_t n_rep() const { return heads / kv_heads; }  // query heads per KV head
  int64_t q_dim() const { return heads * head_dim; }
  // Values of a head that RoPE rotates: int(head_dim * partial_rotary_factor), as transformers.
  int64_t rotary_dim() const;
  bool uses_rope(int64_t layer) const {
    return layer_rope.empty() || layer_rope.at(static_cast<size_t>(layer));
  }
  int64_t kv_dim() const { return kv_heads * head_dim; }
  bool is_mha() const { return kv_heads == heads; }
  bool is_mqa() const { return kv_heads == 1; }

  // Tokens of context that layer `layer` keeps in its KV cache at context length ctx:
  // ctx for full attention, min(ctx, window) for sliding layers.
  int64_t layer_tokens_held(int64_t layer, int64_t ctx) const;

  // Bytes one token costs in the KV cache of one layer (K and V): 2 * h_kv * vector bytes.
  int64_t kv_layer_bytes_per_token(KvDtype dtype) const;
  // Bytes one token costs across all layers, as if every layer kept it:
  // 2 * L * h_kv * d_h * bytes for the plain formats.
  int64_t kv_bytes_per_token(KvDtype dtype) const;

  // Parameters counted from the shapes this config implies (embeddings, attention, MLP,
  // norms, untied lm_head). Throws Error when intermediate or vocab is not known.
  int64_t parameter_count() const;

  // The same model with kv_heads KV heads, as after conversion. Throws if kv_heads does not
  // divide the query heads; the message lists the valid counts.
  ModelConfig regrouped(int64_t kv_heads) const;
};

// What the native runtime and the trainer implement: every family above, with an even rotary
// dimension and no setting in not_implemented. Throws Error (kUnsupported) naming `where`, what
// `who` ("the runtime", "training") does not support, and the config field.
void require_runnable(const ModelConfig& c, const std::string& where, const std::string& who);

// Every divisor of heads from heads (MHA) down to 1 (MQA).
std::vector<int64_t> valid_kv_head_counts(int64_t heads);

// "1, 2, 4, 8, 16, 32"
std::string join_counts(const std::vector<int64_t>& v);

}  // namespace gqa

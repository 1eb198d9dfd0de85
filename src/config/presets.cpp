#include "config/presets.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "core/error.h"

namespace gqa {
namespace {

struct Row {
  const char* key;
  const char* display;
  const char* repo;
  Architecture arch;
  int64_t L, H, kv, dh, hidden, inter, vocab;
  double theta;
  int64_t max_pos;
  bool tie;
  double eps;
  double llama3_rope_factor = 0;     // rope_scaling {rope_type: llama3, factor}; 0: none
  bool full_attention = false;       // Mistral without sliding_window (Mistral-Large)
  double query_pre_attn_scalar = 0;  // Gemma 3; 0: head_dim
};

// L = layers, H = query heads, kv = KV heads, dh = head_dim.
constexpr Row kRows[] = {
    {"llama-2-7b", "Llama-2-7B", "meta-llama/Llama-2-7b-hf", Architecture::kLlama, 32, 32, 32, 128,
     4096, 11008, 32000, 1e4, 4096, false, 1e-5},
    {"llama-2-13b", "Llama-2-13B", "meta-llama/Llama-2-13b-hf", Architecture::kLlama, 40, 40, 40,
     128, 5120, 13824, 32000, 1e4, 4096, false, 1e-5},
    {"llama-2-70b", "Llama-2-70B", "meta-llama/Llama-2-70b-hf", Architecture::kLlama, 80, 64, 8,
     128, 8192, 28672, 32000, 1e4, 4096, false, 1e-5},
    {"llama-3.1-8b", "Llama-3.1-8B", "meta-llama/Llama-3.1-8B", Architecture::kLlama, 32, 32, 8,
     128, 4096, 14336, 128256, 5e5, 131072, false, 1e-5, 8.0},
    {"llama-3.2-1b", "Llama-3.2-1B", "meta-llama/Llama-3.2-1B", Architecture::kLlama, 16, 32, 8, 64,
     2048, 8192, 128256, 5e5, 131072, true, 1e-5, 32.0},
    {"llama-3.2-3b", "Llama-3.2-3B", "meta-llama/Llama-3.2-3B", Architecture::kLlama, 28, 24, 8,
     128, 3072, 8192, 128256, 5e5, 131072, true, 1e-5, 32.0},
    {"mistral-7b-v0.1", "Mistral-7B-v0.1", "mistralai/Mistral-7B-v0.1", Architecture::kMistral, 32,
     32, 8, 128, 4096, 14336, 32000, 1e4, 32768, false, 1e-5},
    {"phi-4-mini", "Phi-4-mini-instruct", "microsoft/Phi-4-mini-instruct", Architecture::kPhi3, 32,
     24, 8, 128, 3072, 8192, 200064, 1e4, 131072, true, 1e-5},
    {"qwen3-4b", "Qwen3-4B", "Qwen/Qwen3-4B", Architecture::kQwen3, 36, 32, 8, 128, 2560, 9728,
     151936, 1e6, 40960, true, 1e-6},
    {"qwen2.5-0.5b", "Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B", Architecture::kQwen2, 24, 14, 2, 64, 896,
     4864, 151936, 1e6, 32768, true, 1e-6},
    {"smollm3-3b", "SmolLM3-3B", "HuggingFaceTB/SmolLM3-3B", Architecture::kSmolLM3, 36, 16, 4, 128,
     2048, 11008, 128256, 5e6, 65536, true, 1e-6},
    {"smollm2-135m", "SmolLM2-135M", "HuggingFaceTB/SmolLM2-135M", Architecture::kLlama, 30, 9, 3,
     64, 576, 1536, 49152, 1e5, 8192, true, 1e-5},
    {"smollm2-360m", "SmolLM2-360M", "HuggingFaceTB/SmolLM2-360M", Architecture::kLlama, 32, 15, 5,
     64, 960, 2560, 49152, 1e5, 8192, true, 1e-5},
    {"gemma-3-4b", "Gemma-3-4B (text)", "google/gemma-3-4b-it", Architecture::kGemma3, 34, 8, 4,
     256, 2560, 10240, 262208, 1e6, 131072, true, 1e-6, 0, false, 256},
    // The large models people size most, from their config.json files.
    {"llama-3.1-70b", "Llama-3.1-70B", "meta-llama/Llama-3.1-70B", Architecture::kLlama, 80, 64, 8,
     128, 8192, 28672, 128256, 5e5, 131072, false, 1e-5, 8.0},
    {"llama-3.1-405b", "Llama-3.1-405B", "meta-llama/Llama-3.1-405B", Architecture::kLlama, 126,
     128, 8, 128, 16384, 53248, 128256, 5e5, 131072, false, 1e-5, 8.0},
    {"qwen3-32b", "Qwen3-32B", "Qwen/Qwen3-32B", Architecture::kQwen3, 64, 64, 8, 128, 5120, 25600,
     151936, 1e6, 40960, false, 1e-6},
    {"mistral-large-2407", "Mistral-Large-Instruct-2407", "mistralai/Mistral-Large-Instruct-2407",
     Architecture::kMistral, 88, 96, 8, 128, 12288, 28672, 32768, 1e6, 131072, false, 1e-5, 0,
     true},
    {"gemma-3-27b", "Gemma-3-27B (text)", "google/gemma-3-27b-it", Architecture::kGemma3, 62, 32,
     16, 128, 5376, 21504, 262208, 1e6, 131072, true, 1e-6, 0, false, 168},
    {"tinyllama-1.1b", "TinyLlama-1.1B", "TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T",
     Architecture::kLlama, 22, 32, 4, 64, 2048, 5632, 32000, 1e4, 2048, false, 1e-5},
    {"stories15m", "stories15M (llama2.c)", "karpathy/tinyllamas stories15M.bin",
     Architecture::kLlama, 6, 6, 6, 48, 288, 768, 32000, 1e4, 256, true, 1e-5},
    {"stories42m", "stories42M (llama2.c)", "karpathy/tinyllamas stories42M.bin",
     Architecture::kLlama, 8, 8, 8, 64, 512, 1376, 32000, 1e4, 1024, true, 1e-5},
    {"stories110m", "stories110M (llama2.c)", "karpathy/tinyllamas stories110M.bin",
     Architecture::kLlama, 12, 12, 12, 64, 768, 2048, 32000, 1e4, 1024, true, 1e-5},
};

ModelConfig to_config(const Row& r) {
  ModelConfig c;
  c.name = r.display;
  c.arch = r.arch;
  c.layers = r.L;
  c.heads = r.H;
  c.kv_heads = r.kv;
  c.head_dim = r.dh;
  c.hidden = r.hidden;
  c.intermediate = r.inter;
  c.vocab = r.vocab;
  c.rope_theta = r.theta;
  c.max_positions = r.max_pos;
  c.tie_embeddings = r.tie;
  c.norm_eps = r.eps;
  c.torch_dtype = "bfloat16";
  c.layer_types.assign(static_cast<size_t>(r.L), LayerAttention::kFull);
  switch (r.arch) {
    case Architecture::kMistral:
      if (r.full_attention) break;
      c.sliding_window = 4096;  // every layer
      c.layer_types.assign(static_cast<size_t>(r.L), LayerAttention::kSliding);
      break;
    case Architecture::kQwen2:
      c.qkv_bias = true;
      break;
    case Architecture::kQwen3:
      c.qk_norm = true;
      break;
    case Architecture::kPhi3:
      c.partial_rotary_factor = 0.75;
      break;
    case Architecture::kGemma3:
      // 5 local : 1 global; local layers attend to 1024 tokens with rope theta 1e4.
      c.qk_norm = true;
      c.sliding_window = 1024;
      c.rope_local_theta = 1e4;
      c.rope_scaling = RopeScaling{};
      c.rope_scaling->type = "linear";
      c.rope_scaling->factor = 8.0;
      c.hidden_act = Activation::kGeluTanh;
      c.query_pre_attn_scalar = r.query_pre_attn_scalar;
      for (int64_t i = 0; i < r.L; ++i)
        if ((i + 1) % 6 != 0) c.layer_types[static_cast<size_t>(i)] = LayerAttention::kSliding;
      break;
    case Architecture::kLlama:
      if (r.llama3_rope_factor > 0) {
        c.rope_scaling = RopeScaling{};
        c.rope_scaling->type = "llama3";
        c.rope_scaling->factor = r.llama3_rope_factor;
        c.rope_scaling->original_max_positions = 8192;
      }
      if (std::string(r.key).starts_with("stories")) c.torch_dtype = "float32";
      break;
    case Architecture::kSmolLM3:
      // RoPE on three layers of every four (no_rope_layers).
      for (int64_t i = 0; i < r.L; ++i) c.layer_rope.push_back((i + 1) % 4 != 0);
      break;
  }
  c.validate();
  return c;
}

std::string normalize(std::string_view s) {
  std::string r;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || ch == '.') r.push_back(static_cast<char>(std::tolower(c)));
  }
  return r;
}

}  // namespace

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = [] {
    std::vector<Preset> v;
    for (const auto& r : kRows) v.push_back({r.key, r.display, r.repo, to_config(r)});
    return v;
  }();
  return all;
}

const Preset* find_preset(std::string_view name) {
  const std::string n = normalize(name);
  for (const auto& p : presets()) {
    if (normalize(p.key) == n) return &p;
    std::string disp = p.display.substr(0, p.display.find(' '));
    if (normalize(disp) == n) return &p;
  }
  return nullptr;
}

void fail_unknown_preset(std::string_view name) {
  // A name that looks like a path was meant as one: say that it does not exist, first.
  const bool path_like = name.find('/') != std::string_view::npos || name.starts_with('.') ||
                         name.ends_with(".json") || name.starts_with('~');
  if (path_like)
    fail(ErrorKind::kIo, std::string(name) +
                             ": no such file or folder (give a config.json, a checkpoint folder "
                             "or a preset name: see --list-presets)");
  std::string keys;
  for (const auto& p : presets()) keys += (keys.empty() ? "" : ", ") + p.key;
  fail(ErrorKind::kInvalidArgument, "unknown model '" + std::string(name) + "': not a preset (" +
                                        keys + ") and not a config.json file or checkpoint folder");
}

}  // namespace gqa

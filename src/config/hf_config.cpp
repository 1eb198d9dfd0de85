#include "config/hf_config.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_parse.h"
#include "core/text_file.h"

namespace gqa {
namespace {

using nlohmann::json;

struct Family {
  std::string_view model_type;
  std::string_view architecture;
  Architecture arch;
};

constexpr Family kFamilies[] = {
    {"llama", "LlamaForCausalLM", Architecture::kLlama},
    {"mistral", "MistralForCausalLM", Architecture::kMistral},
    {"qwen2", "Qwen2ForCausalLM", Architecture::kQwen2},
    {"qwen3", "Qwen3ForCausalLM", Architecture::kQwen3},
    {"phi3", "Phi3ForCausalLM", Architecture::kPhi3},
    {"smollm3", "SmolLM3ForCausalLM", Architecture::kSmolLM3},
    {"gemma3_text", "Gemma3ForCausalLM", Architecture::kGemma3},
    {"gemma3", "Gemma3ForConditionalGeneration", Architecture::kGemma3},
};

std::string supported_list() {
  std::string s;
  for (const auto& f : kFamilies) s += (s.empty() ? "" : ", ") + std::string(f.architecture);
  return s;
}

// Field access with messages that name the file and the field.
class Fields {
 public:
  Fields(const json& obj, std::string source) : obj_(obj), source_(std::move(source)) {}

  bool has(const char* key) const { return obj_.contains(key) && !obj_.at(key).is_null(); }

  std::optional<int64_t> opt_int(const char* key) const {
    if (!has(key)) return std::nullopt;
    const json& v = obj_.at(key);
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::floor(d) == d && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
    }
    type_error(key, "an integer", v);
  }
  int64_t req_int(const char* key) const {
    if (auto v = opt_int(key)) return *v;
    fail(ErrorKind::kParse, source_ + ": missing field '" + key + "'");
  }
  std::optional<double> opt_num(const char* key) const {
    if (!has(key)) return std::nullopt;
    const json& v = obj_.at(key);
    if (!v.is_number()) type_error(key, "a number", v);
    return v.get<double>();
  }
  std::optional<bool> opt_bool(const char* key) const {
    if (!has(key)) return std::nullopt;
    const json& v = obj_.at(key);
    if (!v.is_boolean()) type_error(key, "true or false", v);
    return v.get<bool>();
  }
  std::optional<std::string> opt_str(const char* key) const {
    if (!has(key)) return std::nullopt;
    const json& v = obj_.at(key);
    if (!v.is_string()) type_error(key, "a string", v);
    return v.get<std::string>();
  }
  const json& at(const char* key) const { return obj_.at(key); }
  const std::string& source() const { return source_; }

  [[noreturn]] void type_error(const std::string& key, const char* want, const json& got) const {
    fail(ErrorKind::kParse, source_ + ": field '" + key + "' must be " + want + ", got " +
                                std::string(got.type_name()));
  }

 private:
  const json& obj_;
  std::string source_;
};

// transformers' config-class defaults for fields that published files routinely leave out.
struct Defaults {
  double rope_theta = 10000.0;
  double norm_eps = 1e-6;
  int64_t max_positions = 2048;
  bool tie = false;
  // gemma3_text only: its published configs omit the head layout entirely.
  std::optional<int64_t> heads, kv_heads, head_dim, vocab;
};

Defaults defaults_for(Architecture a) {
  Defaults d;
  switch (a) {
    case Architecture::kLlama:
      break;
    case Architecture::kMistral:
      d.max_positions = 4096 * 32;
      break;
    case Architecture::kQwen2:
    case Architecture::kQwen3:
    case Architecture::kSmolLM3:
      d.max_positions = 32768;
      break;
    case Architecture::kPhi3:
      d.norm_eps = 1e-5;
      d.max_positions = 4096;
      break;
    case Architecture::kGemma3:
      d.rope_theta = 1e6;
      d.max_positions = 131072;
      d.tie = true;
      d.heads = 8;
      d.kv_heads = 4;
      d.head_dim = 256;
      d.vocab = 262208;
      break;
  }
  return d;
}

Architecture find_architecture(const json& top, const json& text, const std::string& source) {
  std::string named;
  if (top.contains("architectures") && top["architectures"].is_array() &&
      !top["architectures"].empty() && top["architectures"][0].is_string()) {
    named = top["architectures"][0].get<std::string>();
    for (const auto& f : kFamilies)
      if (named == f.architecture) return f.arch;
  }
  for (const json* obj : {&text, &top}) {
    if (obj->contains("model_type") && (*obj)["model_type"].is_string()) {
      const auto mt = (*obj)["model_type"].get<std::string>();
      for (const auto& f : kFamilies)
        if (mt == f.model_type) return f.arch;
      if (named.empty()) named = "model_type " + mt;
    }
  }
  if (named.empty())
    fail(ErrorKind::kParse, source + ": neither 'architectures' nor 'model_type' is given");
  fail(ErrorKind::kUnsupported,
       source + ": unknown architecture '" + named + "' (supported: " + supported_list() + ")");
}

// SmolLM3's no_rope_layers: 1 where a layer applies RoPE, 0 where it does not; by default every
// no_rope_layer_interval-th layer (4) goes without.
std::vector<bool> read_layer_rope(const Fields& f, Architecture arch, int64_t layers) {
  if (arch != Architecture::kSmolLM3) return {};
  std::vector<bool> rope(static_cast<size_t>(layers), true);
  if (f.has("no_rope_layers")) {
    const json& v = f.at("no_rope_layers");
    if (!v.is_array() || static_cast<int64_t>(v.size()) != layers)
      fail(ErrorKind::kParse, f.source() + ": 'no_rope_layers' must be a list of " +
                                  std::to_string(layers) + " zeros and ones");
    for (size_t i = 0; i < v.size(); ++i) {
      if (!(v[i].is_number_integer() || v[i].is_boolean()))
        f.type_error("no_rope_layers", "a list of zeros and ones", v);
      rope[i] = v[i].is_boolean() ? v[i].get<bool>() : v[i].get<int64_t>() != 0;
    }
    return rope;
  }
  const int64_t interval = f.opt_int("no_rope_layer_interval").value_or(4);
  if (interval <= 0)
    fail(ErrorKind::kParse, f.source() + ": no_rope_layer_interval must be positive");
  for (int64_t i = 0; i < layers; ++i) rope[static_cast<size_t>(i)] = (i + 1) % interval != 0;
  return rope;
}

std::vector<LayerAttention> read_layer_types(const Fields& f, Architecture arch, int64_t layers,
                                             std::optional<int64_t> window) {
  std::vector<LayerAttention> types(static_cast<size_t>(layers), LayerAttention::kFull);
  if (f.has("layer_types")) {
    const json& lt = f.at("layer_types");
    if (!lt.is_array() || static_cast<int64_t>(lt.size()) != layers)
      fail(ErrorKind::kParse, f.source() + ": 'layer_types' must be an array of " +
                                  std::to_string(layers) + " strings");
    for (size_t i = 0; i < lt.size(); ++i) {
      const std::string t = lt[i].is_string() ? lt[i].get<std::string>() : "";
      if (t == "sliding_attention") {
        types[i] = LayerAttention::kSliding;
      } else if (t != "full_attention") {
        fail(ErrorKind::kParse, f.source() + ": layer_types[" + std::to_string(i) +
                                    "] must be \"full_attention\" or \"sliding_attention\"");
      }
    }
    return types;
  }
  if (!window) return types;
  switch (arch) {
    case Architecture::kMistral:
    case Architecture::kPhi3:  // the window applies to every layer
      std::fill(types.begin(), types.end(), LayerAttention::kSliding);
      break;
    case Architecture::kSmolLM3:
      // Sliding only with use_sliding_window, on the layers without RoPE.
      if (f.opt_bool("use_sliding_window").value_or(false)) {
        const std::vector<bool> rope = read_layer_rope(f, arch, layers);
        for (int64_t i = 0; i < layers; ++i)
          if (!rope[static_cast<size_t>(i)])
            types[static_cast<size_t>(i)] = LayerAttention::kSliding;
      }
      break;
    case Architecture::kQwen2:
    case Architecture::kQwen3:
      // Sliding only with use_sliding_window, from layer max_window_layers on.
      if (f.opt_bool("use_sliding_window").value_or(false)) {
        const int64_t from = f.opt_int("max_window_layers").value_or(layers);
        for (int64_t i = std::max<int64_t>(from, 0); i < layers; ++i)
          types[static_cast<size_t>(i)] = LayerAttention::kSliding;
      }
      break;
    case Architecture::kGemma3: {
      // Every pattern-th layer is global; the others slide.
      const int64_t pattern = f.opt_int("sliding_window_pattern").value_or(6);
      if (pattern <= 0)
        fail(ErrorKind::kParse, f.source() + ": sliding_window_pattern must be positive");
      for (int64_t i = 0; i < layers; ++i)
        if ((i + 1) % pattern != 0) types[static_cast<size_t>(i)] = LayerAttention::kSliding;
      break;
    }
    case Architecture::kLlama:
      break;
  }
  return types;
}

std::vector<double> read_factor_list(const Fields& f, const char* key) {
  std::vector<double> out;
  if (!f.has(key)) return out;
  const json& v = f.at(key);
  if (!v.is_array() || v.size() > static_cast<size_t>(kMaxHeadDim))
    f.type_error(key, "a list of numbers", v);
  for (const json& x : v) {
    if (!x.is_number()) f.type_error(key, "a list of numbers", v);
    out.push_back(x.get<double>());
  }
  return out;
}

// A rope_scaling object, or transformers 5's rope_parameters entry (which holds rope_theta too).
RopeScaling read_rope_object(const Fields& rf) {
  RopeScaling s;
  s.type = rf.opt_str("rope_type").value_or(rf.opt_str("type").value_or(""));
  if (s.type.empty())
    fail(ErrorKind::kParse, rf.source() + ": neither 'rope_type' nor 'type' is given");
  s.factor = rf.opt_num("factor");
  s.low_freq_factor = rf.opt_num("low_freq_factor").value_or(1.0);
  s.high_freq_factor = rf.opt_num("high_freq_factor").value_or(4.0);
  s.original_max_positions = rf.opt_int("original_max_position_embeddings").value_or(0);
  s.short_factor = read_factor_list(rf, "short_factor");
  s.long_factor = read_factor_list(rf, "long_factor");
  s.attention_factor = rf.opt_num("attention_factor");
  return s;
}

std::optional<RopeScaling> read_rope_scaling(const Fields& f) {
  if (!f.has("rope_scaling")) return std::nullopt;
  const json& r = f.at("rope_scaling");
  if (!r.is_object()) f.type_error("rope_scaling", "an object", r);
  RopeScaling s = read_rope_object(Fields(r, f.source() + " rope_scaling"));
  if (s.type == "default") return std::nullopt;
  return s;
}

// transformers 5 writes rope_theta and rope_scaling as rope_parameters: one object, or one per
// layer type (Gemma 3: full_attention, sliding_attention).
void read_rope_parameters(const Fields& f, ModelConfig& c) {
  if (!f.has("rope_parameters")) return;
  const json& r = f.at("rope_parameters");
  if (!r.is_object()) f.type_error("rope_parameters", "an object", r);
  const bool per_type = r.contains("full_attention");
  auto apply = [&](const json& obj, const std::string& name, bool local) {
    if (!obj.is_object()) f.type_error(name, "an object", obj);
    const Fields rf(obj, f.source() + " " + name);
    const std::optional<double> theta = rf.opt_num("rope_theta");
    if (local) {
      if (theta) c.rope_local_theta = *theta;
      return;
    }
    if (theta) c.rope_theta = *theta;
    RopeScaling s = read_rope_object(rf);
    if (s.type != "default") c.rope_scaling = s;
  };
  apply(per_type ? r.at("full_attention") : r, "rope_parameters", false);
  if (per_type && r.contains("sliding_attention"))
    apply(r.at("sliding_attention"), "rope_parameters.sliding_attention", true);
}

// The MLP activation: hidden_act (hidden_activation in Gemma 3). One the runtime does not
// compute is noted in not_implemented, the planner can still size the model.
Activation read_activation(const Fields& f, Architecture arch,
                           std::vector<std::string>& not_implemented) {
  const bool gemma = arch == Architecture::kGemma3;
  const char* key = gemma ? "hidden_activation" : "hidden_act";
  const std::string act = f.opt_str(key).value_or(gemma ? "gelu_pytorch_tanh" : "silu");
  if (act == "silu" || act == "swish") return Activation::kSilu;
  if (act == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  not_implemented.push_back(std::string(key) + ": \"" + act.substr(0, 40) +
                            "\" (silu and gelu_pytorch_tanh are)");
  return Activation::kSilu;
}

// Settings that change the forward pass in ways gqa does not compute: named, never ignored.
void note_not_implemented(const Fields& f, Architecture arch, std::vector<std::string>& out) {
  if (f.opt_bool("mlp_bias").value_or(false)) out.push_back("mlp_bias: true");
  if (f.opt_bool("use_bidirectional_attention").value_or(false))
    out.push_back("use_bidirectional_attention: true");
  // transformers' Gemma 3 attention does not apply it either; refused rather than guessed.
  if (arch == Architecture::kGemma3 && f.has("attn_logit_softcapping"))
    out.push_back("attn_logit_softcapping (transformers' Gemma 3 attention does not apply it)");
  if (f.has("attention_chunk_size")) out.push_back("attention_chunk_size");
}

}  // namespace

ModelConfig parse_hf_config(std::string_view json_text, const std::string& source) {
  const json top = parse_json(json_text, source);
  if (!top.is_object()) fail(ErrorKind::kParse, source + ": top level must be a JSON object");
  const bool nested = top.contains("text_config") && top["text_config"].is_object();
  const json& text = nested ? top["text_config"] : top;
  const Fields f(text, nested ? source + " text_config" : source);
  const Fields tf(top, source);

  ModelConfig c;
  c.arch = find_architecture(top, text, source);
  const Defaults d = defaults_for(c.arch);
  auto required = [&](const char* key, std::optional<int64_t> fallback) {
    if (auto v = f.opt_int(key)) return *v;
    if (fallback) return *fallback;
    return f.req_int(key);  // throws "missing field"
  };
  c.layers = f.req_int("num_hidden_layers");
  c.hidden = f.req_int("hidden_size");
  c.intermediate = f.req_int("intermediate_size");
  c.heads = required("num_attention_heads", d.heads);
  c.vocab = required("vocab_size", d.vocab);
  if (c.intermediate == 0) fail(ErrorKind::kInvalidArgument, source + ": intermediate_size is 0");
  if (c.vocab == 0) fail(ErrorKind::kInvalidArgument, source + ": vocab_size is 0");
  c.kv_heads = f.opt_int("num_key_value_heads").value_or(d.kv_heads.value_or(c.heads));
  if (auto hd = f.opt_int("head_dim")) {
    c.head_dim = *hd;  // an explicit head_dim always wins (Qwen3-4B: 128, not 2560/32)
  } else if (d.head_dim) {
    c.head_dim = *d.head_dim;
  } else {
    if (c.heads <= 0 || c.hidden % c.heads != 0)
      fail(ErrorKind::kParse, source + ": no head_dim and hidden_size " + std::to_string(c.hidden) +
                                  " is not divisible by " + std::to_string(c.heads) + " heads");
    c.head_dim = c.hidden / c.heads;
  }
  c.rope_theta = f.opt_num("rope_theta").value_or(d.rope_theta);
  c.rope_local_theta =
      f.opt_num("rope_local_base_freq").value_or(c.arch == Architecture::kGemma3 ? 10000.0 : 0.0);
  c.partial_rotary_factor = f.opt_num("partial_rotary_factor").value_or(1.0);
  c.rope_scaling = read_rope_scaling(f);
  read_rope_parameters(f, c);
  c.original_max_positions = f.opt_int("original_max_position_embeddings").value_or(0);
  c.hidden_act = read_activation(f, c.arch, c.not_implemented);
  note_not_implemented(f, c.arch, c.not_implemented);
  for (const char* key :
       {"attention_dropout", "resid_pdrop", "embd_pdrop", "hidden_dropout", "dropout"})
    c.dropout = std::max(c.dropout, f.opt_num(key).value_or(0.0));
  if (c.arch == Architecture::kGemma3) {
    c.query_pre_attn_scalar = f.opt_num("query_pre_attn_scalar").value_or(256.0);
    c.final_logit_softcapping = f.opt_num("final_logit_softcapping");
  }
  c.norm_eps = f.opt_num("rms_norm_eps").value_or(d.norm_eps);
  c.max_positions = f.opt_int("max_position_embeddings").value_or(d.max_positions);
  c.tie_embeddings = f.opt_bool("tie_word_embeddings")
                         .value_or(tf.opt_bool("tie_word_embeddings").value_or(d.tie));
  c.attention_bias = f.opt_bool("attention_bias").value_or(false);
  c.qkv_bias = c.arch == Architecture::kQwen2;
  if (c.qkv_bias) c.attention_bias = false;
  c.qk_norm = c.arch == Architecture::kQwen3 || c.arch == Architecture::kGemma3;
  c.sliding_window = f.opt_int("sliding_window");
  if (!c.sliding_window && c.arch == Architecture::kGemma3) c.sliding_window = 4096;
  // Sized by the layer count: only within bounds (validate() names a bad count below).
  if (c.layers > 0 && c.layers <= kMaxLayers) {
    c.layer_types = read_layer_types(f, c.arch, c.layers, c.sliding_window);
    c.layer_rope = read_layer_rope(f, c.arch, c.layers);
  }
  c.torch_dtype =
      tf.opt_str("torch_dtype")
          .value_or(tf.opt_str("dtype").value_or(f.opt_str("torch_dtype").value_or("")));
  for (const Fields* src : {&f, &tf}) {
    if (!c.bos_token_id) c.bos_token_id = src->opt_int("bos_token_id");
    if (c.eos_token_ids.empty() && src->has("eos_token_id")) {
      const json& e = src->at("eos_token_id");
      if (e.is_array()) {
        for (const auto& id : e) {
          if (!id.is_number_integer())
            src->type_error("eos_token_id", "an integer or a list of them", e);
          c.eos_token_ids.push_back(id.get<int64_t>());
        }
      } else {
        c.eos_token_ids.push_back(*src->opt_int("eos_token_id"));
      }
    }
  }
  try {
    c.validate();
  } catch (const Error& e) {
    fail(e.kind(), source + ": " + e.what());
  }
  // A name for a config given as text (load_hf_config names it by its folder instead): the
  // repository it was saved from, else its class.
  if (const auto it = top.find("_name_or_path");
      it != top.end() && it->is_string() && !it->get<std::string>().empty()) {
    const std::string path = it->get<std::string>();
    c.name = path.substr(0, 200);
  } else if (const auto a = top.find("architectures");
             a != top.end() && a->is_array() && !a->empty() && (*a)[0].is_string()) {
    c.name = (*a)[0].get<std::string>().substr(0, 200);
  } else {
    c.name = std::string(architecture_name(c.arch));
  }
  return c;
}

ModelConfig load_hf_config(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  fs::path file = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) file = path / "config.json";
  ModelConfig c = parse_hf_config(read_text_file(file, kMaxConfigFileBytes), file.string());
  // "Qwen3-4B/config.json" and "Qwen3-4B/" are named Qwen3-4B; "qwen3-4b.json" qwen3-4b.
  fs::path folder = file.parent_path().lexically_normal();
  if (folder.filename().empty()) folder = folder.parent_path();
  c.name = file.filename() == "config.json" && !folder.filename().empty()
               ? folder.filename().string()
               : file.stem().string();
  return c;
}

}  // namespace gqa

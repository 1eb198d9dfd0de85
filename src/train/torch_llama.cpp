#include "train/torch_llama.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "config/hf_config.h"
#include "config/hf_config_writer.h"
#include "config/rope_frequencies.h"
#include "config/tensor_check.h"
#include "config/tensor_names.h"
#include "convert/random_checkpoint.h"
#include "core/error.h"
#include "core/float_codec.h"
#include "io/checkpoint.h"
#include "io/file_output.h"
#include "io/weights_writer.h"

namespace gqa::train {
namespace {

namespace F = torch::nn::functional;

void check_trainable(const ModelConfig& c, const std::string& where) {
  require_runnable(c, where, "training");
  if (c.dropout > 0)
    fail(ErrorKind::kUnsupported,
         where + ": training does not implement dropout; the config sets a rate of " +
             std::to_string(c.dropout) + " (attention_dropout, resid_pdrop, embd_pdrop, ...)");
  if (c.intermediate <= 0 || c.vocab <= 0)
    fail(ErrorKind::kInvalidArgument, where + ": intermediate_size and vocab_size are needed");
}

// x [..., d] * rsqrt(mean(x^2) + eps) * w [d]; Gemma's norms multiply by (1 + w).
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps,
                       bool plus_one = false) {
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * (plus_one ? w + 1 : w);
}

// HF rotate_half: [x1, x2] -> [-x2, x1] over the last dimension.
torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

// RoPE on the first cos.size(-1) values of each head (partial rotary leaves the rest).
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin) {
  const int64_t rd = cos.size(-1);
  if (rd == x.size(-1)) return x * cos + rotate_half(x) * sin;
  const torch::Tensor rot = x.narrow(-1, 0, rd);
  return torch::cat({rot * cos + rotate_half(rot) * sin, x.narrow(-1, rd, x.size(-1) - rd)}, -1);
}

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor* b) {
  return b ? F::linear(x, w, *b) : F::linear(x, w);
}

}  // namespace

TorchLlama::TorchLlama(ModelConfig config, std::vector<NamedTensor> params)
    : config_(std::move(config)), params_(std::move(params)) {
  for (size_t i = 0; i < params_.size(); ++i) index_[params_[i].name] = i;
}

TorchLlama TorchLlama::initialized(const ModelConfig& config, uint64_t seed, double std) {
  config.validate();
  check_trainable(config, config.name.empty() ? "model" : config.name);
  const convert::InitOptions options{.dtype = DType::kF32, .seed = seed, .std = std};
  const std::vector<ExpectedTensor> tensors = expected_tensors(config);
  std::vector<NamedTensor> params;
  for (size_t i = 0; i < tensors.size(); ++i) {
    torch::Tensor t = torch::empty(tensors[i].shape, torch::kFloat);
    convert::TensorInitializer(config, tensors[i], i, options).fill(t.data_ptr<float>(), t.numel());
    params.push_back({tensors[i].name, t.requires_grad_(true)});
  }
  return TorchLlama(config, std::move(params));
}

TorchLlama TorchLlama::load(const std::filesystem::path& dir, torch::ScalarType dtype) {
  const io::Checkpoint ck(dir);
  ModelConfig config = parse_hf_config(ck.config_text(), (dir / "config.json").string());
  config.name = dir.filename().string();
  check_trainable(config, dir.string());
  const TensorCheck check = check_tensors(ck.shapes(), config);
  if (!check.ok()) fail(ErrorKind::kParse, check.first_problem(dir.string()));
  if (check.prefix.body != "model.")
    fail(ErrorKind::kUnsupported,
         dir.string() + ": training reads causal-LM checkpoints (tensors under 'model.')");
  if (!check.extra.empty() || !check.other.empty())
    fail(ErrorKind::kUnsupported,
         dir.string() + ": tensor '" + (check.extra.empty() ? check.other : check.extra).front() +
             "' is not part of a " + std::string(architecture_name(config.arch)));
  std::vector<NamedTensor> params;
  for (const ExpectedTensor& e : check.expected) {
    const io::TensorView v = ck.view(e.name);
    if (!is_float_weight_dtype(v.dtype))
      fail(ErrorKind::kUnsupported, dir.string() + ": tensor '" + e.name + "' is " +
                                        std::string(dtype_name(v.dtype)) +
                                        "; training reads f32, bf16 and f16 weights");
    torch::Tensor t = torch::empty(e.shape, torch::kFloat);
    decode_to_f32(v.dtype, v.data.data(), v.numel(), t.data_ptr<float>());
    // Stored under the prefix the checkpoint uses; trained under the plain causal-LM names.
    params.push_back({e.name, t.to(dtype).requires_grad_(true)});
  }
  return TorchLlama(config, std::move(params));
}

void TorchLlama::save(const std::filesystem::path& dir, DType dtype) const {
  if (!is_float_weight_dtype(dtype))
    fail(ErrorKind::kInvalidArgument, "weights are saved as f32, bf16 or f16");
  ModelConfig m = config_;
  m.torch_dtype = torch_dtype_name(dtype);
  std::vector<io::TensorInfo> specs;
  for (const NamedTensor& p : params_)
    specs.push_back({p.name, dtype, p.value.sizes().vec(), 0, 0});
  {
    io::WeightsWriter writer(dir, specs, {{"format", "pt"}}, 0);
    std::vector<std::byte> bytes;
    for (const NamedTensor& p : params_) {
      const torch::Tensor f = p.value.detach().to(torch::kFloat).contiguous();
      bytes.resize(static_cast<size_t>(f.numel() * dtype_size(dtype)));
      encode_from_f32(dtype, f.data_ptr<float>(), f.numel(), bytes.data());
      writer.write(p.name, bytes);
    }
    writer.finish();
  }
  io::write_text_file(dir / "config.json", to_hf_config_json(m));
}

std::vector<torch::Tensor> TorchLlama::parameters() const {
  std::vector<torch::Tensor> out;
  for (const NamedTensor& p : params_) out.push_back(p.value);
  return out;
}

const torch::Tensor& TorchLlama::param(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail(ErrorKind::kInvalidArgument, "no parameter '" + name + "'");
  return params_[it->second].value;
}

int64_t TorchLlama::parameter_count() const {
  int64_t n = 0;
  for (const NamedTensor& p : params_) n += p.value.numel();
  return n;
}

// h: [B, T, hidden] -> [B, T, hidden]
torch::Tensor TorchLlama::attention(int64_t layer, const torch::Tensor& h, const Rotation* rope,
                                    const torch::Tensor& masked) const {
  const ModelConfig& c = config_;
  const std::string p = "model.layers." + std::to_string(layer) + ".self_attn.";
  const int64_t B = h.size(0), T = h.size(1), hd = c.head_dim;
  const bool qkv_bias = c.qkv_bias || c.attention_bias;
  auto bias = [&](const char* n) { return qkv_bias ? &param(p + n) : nullptr; };
  torch::Tensor q, k, v;
  if (c.arch == Architecture::kPhi3) {  // fused [q; k; v] rows
    const torch::Tensor& w = param(p + "qkv_proj.weight");
    q = F::linear(h, w.narrow(0, 0, c.q_dim()));
    k = F::linear(h, w.narrow(0, c.q_dim(), c.kv_dim()));
    v = F::linear(h, w.narrow(0, c.q_dim() + c.kv_dim(), c.kv_dim()));
  } else {
    q = linear(h, param(p + "q_proj.weight"), bias("q_proj.bias"));
    k = linear(h, param(p + "k_proj.weight"), bias("k_proj.bias"));
    v = linear(h, param(p + "v_proj.weight"), bias("v_proj.bias"));
  }
  q = q.view({B, T, c.heads, hd}).transpose(1, 2);     // [B, H, T, d]
  k = k.view({B, T, c.kv_heads, hd}).transpose(1, 2);  // [B, h_kv, T, d]
  v = v.view({B, T, c.kv_heads, hd}).transpose(1, 2);
  const bool gemma = c.arch == Architecture::kGemma3;
  if (c.qk_norm) {
    q = rms_norm(q, param(p + "q_norm.weight"), c.norm_eps, gemma);
    k = rms_norm(k, param(p + "k_norm.weight"), c.norm_eps, gemma);
  }
  if (rope) {
    q = apply_rope(q, rope->cos, rope->sin);
    k = apply_rope(k, rope->cos, rope->sin);
  }
  // Query head h uses KV head h / n_rep: group the queries, broadcast K/V over the group.
  q = q.reshape({B, c.kv_heads, c.n_rep(), T, hd});
  k = k.unsqueeze(2);  // [B, h_kv, 1, T, d]
  v = v.unsqueeze(2);
  const double scale =
      1.0 / std::sqrt(c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : double(hd));
  torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2)) * scale;
  scores = scores.masked_fill(masked, -std::numeric_limits<double>::infinity());
  torch::Tensor out = torch::matmul(torch::softmax(scores, -1), v);  // [B, h_kv, n_rep, T, d]
  out = out.reshape({B, c.heads, T, hd}).transpose(1, 2).reshape({B, T, c.heads * hd});
  return linear(out, param(p + "o_proj.weight"),
                c.attention_bias ? &param(p + "o_proj.bias") : nullptr);
}

// h: [B, T, hidden] -> [B, T, hidden]: the gated MLP (gate_up_proj fused in Phi-3).
torch::Tensor TorchLlama::mlp(int64_t layer, const torch::Tensor& h) const {
  const ModelConfig& c = config_;
  const std::string p = "model.layers." + std::to_string(layer) + ".mlp.";
  torch::Tensor gate, up;
  if (c.arch == Architecture::kPhi3) {
    const torch::Tensor& w = param(p + "gate_up_proj.weight");  // [gate; up]
    gate = F::linear(h, w.narrow(0, 0, c.intermediate));
    up = F::linear(h, w.narrow(0, c.intermediate, c.intermediate));
  } else {
    gate = F::linear(h, param(p + "gate_proj.weight"));
    up = F::linear(h, param(p + "up_proj.weight"));
  }
  const torch::Tensor act = c.hidden_act == Activation::kGeluTanh
                                ? F::gelu(gate, F::GELUFuncOptions().approximate("tanh"))
                                : F::silu(gate);
  return F::linear(act * up, param(p + "down_proj.weight"));
}

torch::Tensor TorchLlama::forward(const torch::Tensor& ids) const {
  const ModelConfig& c = config_;
  if (ids.dim() != 2) fail(ErrorKind::kInvalidArgument, "forward takes token ids [batch, tokens]");
  const int64_t B = ids.size(0), T = ids.size(1);
  const torch::Tensor& embed = param("model.embed_tokens.weight");
  const auto dtype = embed.scalar_type();
  const bool gemma = c.arch == Architecture::kGemma3;
  torch::Tensor x = embed.index_select(0, ids.reshape(-1)).view({B, T, c.hidden});
  // Gemma scales embeddings by sqrt(hidden), a float32 constant cast to the weights' dtype.
  if (gemma)
    x = x * torch::scalar_tensor(std::sqrt(static_cast<float>(c.hidden)), torch::kFloat).to(dtype);
  // The RoPE tables the layers use (config/rope_frequencies.h), one rotation each, with angles
  // in f64 then the compute dtype: [T, rotary_dim] (the halves repeat). A window of T tokens
  // from position 0 is one forward call: longrope's long factors past its switch.
  const int64_t switch_at = longrope_switch(c);
  const bool long_context = switch_at > 0 && T > switch_at;
  std::vector<std::pair<std::vector<float>, Rotation>> rotations;
  std::vector<const Rotation*> layer_rope(static_cast<size_t>(c.layers), nullptr);
  rotations.reserve(static_cast<size_t>(c.layers));
  for (int64_t l = 0; l < c.layers; ++l) {
    const RopeTable t = rope_table(c, l, long_context);
    if (t.inv_freq.empty()) continue;
    auto same = std::find_if(rotations.begin(), rotations.end(),
                             [&](const auto& r) { return r.first == t.inv_freq; });
    if (same == rotations.end()) {
      const std::vector<double> f(t.inv_freq.begin(), t.inv_freq.end());
      const torch::Tensor angles =
          torch::outer(torch::arange(T, torch::kDouble), torch::tensor(f, torch::kDouble))
              .repeat({1, 2});
      const double s = t.attention_scale;
      rotations.push_back(
          {t.inv_freq, Rotation{(angles.cos() * s).to(dtype), (angles.sin() * s).to(dtype)}});
      same = rotations.end() - 1;
    }
    layer_rope[static_cast<size_t>(l)] = &same->second;
  }
  // Masks once per forward, not per layer: [T, T], true where a key may not be seen.
  const auto pos = torch::arange(T, torch::kLong);
  const torch::Tensor causal = pos.unsqueeze(0) > pos.unsqueeze(1);  // key after query
  const torch::Tensor sliding =
      c.sliding_window ? causal.logical_or(pos.unsqueeze(1) - pos.unsqueeze(0) >= *c.sliding_window)
                       : causal;
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const bool is_sliding =
        !c.layer_types.empty() && c.layer_types[static_cast<size_t>(l)] == LayerAttention::kSliding;
    auto norm = [&](const char* name, const torch::Tensor& t) {
      return rms_norm(t, param(p + name), c.norm_eps, gemma);
    };
    torch::Tensor a = attention(l, norm("input_layernorm.weight", x),
                                layer_rope[static_cast<size_t>(l)], is_sliding ? sliding : causal);
    if (gemma) {  // norms around each sublayer's output
      x = x + norm("post_attention_layernorm.weight", a);
      x = x + norm("post_feedforward_layernorm.weight",
                   mlp(l, norm("pre_feedforward_layernorm.weight", x)));
    } else {
      x = x + a;
      x = x + mlp(l, norm("post_attention_layernorm.weight", x));
    }
  }
  x = rms_norm(x, param("model.norm.weight"), c.norm_eps, gemma);
  torch::Tensor logits = F::linear(x, c.tie_embeddings ? embed : param("lm_head.weight"));
  if (c.final_logit_softcapping) {
    const double cap = *c.final_logit_softcapping;
    logits = torch::tanh(logits / cap) * cap;
  }
  return logits;
}

torch::Tensor TorchLlama::loss(const torch::Tensor& ids, const torch::Tensor& targets) const {
  const torch::Tensor logits = forward(ids);
  torch::Tensor flat = logits.reshape({-1, logits.size(-1)});
  if (flat.scalar_type() == torch::kBFloat16) flat = flat.to(torch::kFloat);  // autocast output
  return F::cross_entropy(flat, targets.reshape(-1));
}

}  // namespace gqa::train

#include "model/model.h"

#include <cmath>
#include <string>
#include <utility>

#include "config/hf_config.h"
#include "config/rope_frequencies.h"
#include "config/tensor_check.h"
#include "core/error.h"
#include "core/float_codec.h"
#include "model/resident_weights.h"

namespace gqa::model {
namespace {

ModelConfig runnable_config(const io::Checkpoint& ck) {
  ModelConfig c = parse_hf_config(ck.config_text(), (ck.dir() / "config.json").string());
  c.name = ck.dir().filename().string();
  require_runnable(c, ck.dir().string(), "the runtime");
  return c;
}

// Rows [first, first + n) of a stored matrix: a view, no copy (Phi-3's fused projections).
ops::Matrix rows_of(const ops::Matrix& m, int64_t first, int64_t n) {
  return ops::Matrix{m.row(first), m.dtype, n, m.cols};
}

// x rounded to dtype and back, as `torch.tensor(x).to(dtype)` gives it.
float round_to(DType dtype, float x) {
  std::byte buf[4];
  encode_from_f32(dtype, &x, 1, buf);
  float out = 0;
  decode_to_f32(dtype, buf, 1, &out);
  return out;
}

}  // namespace

Model::Model(const std::filesystem::path& dir)
    : checkpoint_(dir), config_(runnable_config(checkpoint_)) {
  const TensorCheck check = check_tensors(checkpoint_.shapes(), config_);
  if (!check.ok()) fail(ErrorKind::kParse, check.first_problem(dir.string()));
  const std::string& p = check.prefix.body;
  auto matrix = [&](const std::string& name) {
    const io::TensorView v = checkpoint_.view(name);
    if (!is_float_weight_dtype(v.dtype))
      fail(ErrorKind::kUnsupported, dir.string() + ": tensor '" + name + "' is " +
                                        std::string(dtype_name(v.dtype)) +
                                        "; the runtime reads f32, bf16 and f16 weights");
    return ops::Matrix{v.data.data(), v.dtype, v.shape[0], v.shape.size() > 1 ? v.shape[1] : 1};
  };
  auto vec = [&](const std::string& name) {
    const io::TensorView v = checkpoint_.view(name);
    std::vector<float> out(static_cast<size_t>(v.numel()));
    decode_to_f32(v.dtype, v.data.data(), v.numel(), out.data());
    return out;
  };
  const ModelConfig& c = config_;
  const bool gemma = c.arch == Architecture::kGemma3;
  // Gemma's RMSNorm multiplies by (1 + w) in f32: the 1 is added here, once.
  auto norm = [&](const std::string& name) {
    std::vector<float> w = vec(name);
    if (gemma)
      for (float& x : w) x += 1.0f;
    return w;
  };
  embed_ = matrix(p + "embed_tokens.weight");
  lm_head_ = c.tie_embeddings ? embed_ : matrix(check.prefix.head + "lm_head.weight");
  final_norm_ = norm(p + "norm.weight");
  if (gemma) embed_scale_ = round_to(embed_.dtype, std::sqrt(static_cast<float>(c.hidden)));
  if (c.query_pre_attn_scalar > 0)
    query_scale_ = static_cast<float>(std::sqrt(static_cast<double>(c.head_dim)) /
                                      std::sqrt(c.query_pre_attn_scalar));
  // One LayerRope per distinct table (Gemma 3: global and local), shared by its layers.
  auto rope_for = [&](int64_t l) -> const LayerRope* {
    RopeTable t = rope_table(c, l);
    if (t.inv_freq.empty()) return nullptr;
    for (const auto& r : ropes_)
      if (r->base.inv_freq() == t.inv_freq) return r.get();
    auto r = std::make_unique<LayerRope>(LayerRope{
        ops::Rope(c.head_dim, std::move(t.inv_freq), static_cast<float>(t.attention_scale)),
        std::nullopt, 0});
    if (const int64_t at = longrope_switch(c); at > 0) {
      RopeTable lt = rope_table(c, l, true);
      r->long_context.emplace(c.head_dim, std::move(lt.inv_freq),
                              static_cast<float>(lt.attention_scale));
      r->switch_at = at;
    }
    ropes_.push_back(std::move(r));
    return ropes_.back().get();
  };
  const int64_t qd = c.q_dim(), kvd = c.kv_dim(), ff = c.intermediate;
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string lp = p + "layers." + std::to_string(l) + ".";
    LayerWeights w;
    if (c.arch == Architecture::kPhi3) {
      const ops::Matrix qkv = matrix(lp + "self_attn.qkv_proj.weight");  // [q; k; v]
      w.wq = rows_of(qkv, 0, qd);
      w.wk = rows_of(qkv, qd, kvd);
      w.wv = rows_of(qkv, qd + kvd, kvd);
      const ops::Matrix gate_up = matrix(lp + "mlp.gate_up_proj.weight");  // [gate; up]
      w.gate = rows_of(gate_up, 0, ff);
      w.up = rows_of(gate_up, ff, ff);
    } else {
      w.wq = matrix(lp + "self_attn.q_proj.weight");
      w.wk = matrix(lp + "self_attn.k_proj.weight");
      w.wv = matrix(lp + "self_attn.v_proj.weight");
      w.gate = matrix(lp + "mlp.gate_proj.weight");
      w.up = matrix(lp + "mlp.up_proj.weight");
    }
    w.wo = matrix(lp + "self_attn.o_proj.weight");
    w.down = matrix(lp + "mlp.down_proj.weight");
    w.attn_norm = norm(lp + "input_layernorm.weight");
    if (gemma) {
      // Gemma's post_attention_layernorm is on the attention output, not before the MLP.
      w.post_attn_norm = norm(lp + "post_attention_layernorm.weight");
      w.mlp_norm = norm(lp + "pre_feedforward_layernorm.weight");
      w.post_mlp_norm = norm(lp + "post_feedforward_layernorm.weight");
    } else {
      w.mlp_norm = norm(lp + "post_attention_layernorm.weight");
    }
    if (c.qk_norm) {
      w.q_norm = norm(lp + "self_attn.q_norm.weight");
      w.k_norm = norm(lp + "self_attn.k_norm.weight");
    }
    w.rope = rope_for(l);
    if (c.attention_bias || c.qkv_bias) {
      w.bq = vec(lp + "self_attn.q_proj.bias");
      w.bk = vec(lp + "self_attn.k_proj.bias");
      w.bv = vec(lp + "self_attn.v_proj.bias");
    }
    if (c.attention_bias) w.bo = vec(lp + "self_attn.o_proj.bias");
    if (c.layer_types[static_cast<size_t>(l)] == LayerAttention::kSliding)
      w.window = *c.sliding_window;
    layers_.push_back(std::move(w));
  }
  std::vector<ops::Matrix*> matrices{&embed_, &lm_head_};
  for (LayerWeights& w : layers_)
    for (ops::Matrix* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.gate, &w.up, &w.down})
      matrices.push_back(m);
  weights_ = make_resident(matrices);  // releases the mapped pages it copied
}

int64_t Model::weight_bytes_per_token() const {
  auto bytes = [](const ops::Matrix& m) { return m.rows * m.cols * dtype_size(m.dtype); };
  int64_t total = bytes(lm_head_);
  for (const auto& w : layers_)
    total += bytes(w.wq) + bytes(w.wk) + bytes(w.wv) + bytes(w.wo) + bytes(w.gate) + bytes(w.up) +
             bytes(w.down);
  return total;
}

}  // namespace gqa::model

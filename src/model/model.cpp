#include "model/model.h"

#include <string>

#include "config/hf_config.h"
#include "config/rope_frequencies.h"
#include "config/tensor_check.h"
#include "core/error.h"
#include "core/float_codec.h"

namespace gqa::model {
namespace {

ModelConfig runnable_config(const io::Checkpoint& ck) {
  ModelConfig c = parse_hf_config(ck.config_text(), (ck.dir() / "config.json").string());
  c.name = ck.dir().filename().string();
  require_llama_family(c, ck.dir().string(), "the runtime");
  return c;
}

}  // namespace

Model::Model(const std::filesystem::path& dir)
    : checkpoint_(dir),
      config_(runnable_config(checkpoint_)),
      rope_(config_.head_dim, rope_inv_freq(config_)) {
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
  embed_ = matrix(p + "embed_tokens.weight");
  lm_head_ = config_.tie_embeddings ? embed_ : matrix(check.prefix.head + "lm_head.weight");
  final_norm_ = vec(p + "norm.weight");
  for (int64_t l = 0; l < config_.layers; ++l) {
    const std::string lp = p + "layers." + std::to_string(l) + ".";
    LayerWeights w;
    w.wq = matrix(lp + "self_attn.q_proj.weight");
    w.wk = matrix(lp + "self_attn.k_proj.weight");
    w.wv = matrix(lp + "self_attn.v_proj.weight");
    w.wo = matrix(lp + "self_attn.o_proj.weight");
    w.gate = matrix(lp + "mlp.gate_proj.weight");
    w.up = matrix(lp + "mlp.up_proj.weight");
    w.down = matrix(lp + "mlp.down_proj.weight");
    w.attn_norm = vec(lp + "input_layernorm.weight");
    w.mlp_norm = vec(lp + "post_attention_layernorm.weight");
    if (config_.qk_norm) {
      w.q_norm = vec(lp + "self_attn.q_norm.weight");
      w.k_norm = vec(lp + "self_attn.k_norm.weight");
    }
    if (config_.attention_bias || config_.qkv_bias) {
      w.bq = vec(lp + "self_attn.q_proj.bias");
      w.bk = vec(lp + "self_attn.k_proj.bias");
      w.bv = vec(lp + "self_attn.v_proj.bias");
    }
    if (config_.attention_bias) w.bo = vec(lp + "self_attn.o_proj.bias");
    if (config_.layer_types[static_cast<size_t>(l)] == LayerAttention::kSliding)
      w.window = *config_.sliding_window;
    layers_.push_back(std::move(w));
  }
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

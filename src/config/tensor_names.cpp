#include "config/tensor_names.h"

namespace gqa {

TensorPrefix detect_prefix(const std::set<std::string>& names) {
  const TensorPrefix candidates[] = {
      {"model.", ""},
      {"language_model.model.", "language_model."},
      {"model.language_model.", ""},
  };
  for (const auto& p : candidates)
    if (names.count(p.body + "embed_tokens.weight")) return p;
  return TensorPrefix{};
}

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& m, const TensorPrefix& prefix) {
  const int64_t h = m.hidden, q = m.q_dim(), kv = m.kv_dim(), ff = m.intermediate;
  const bool gemma = m.arch == Architecture::kGemma3;
  const bool fused = m.arch == Architecture::kPhi3;
  // Gemma stores norm weights as an offset from 1 ((1 + w) * x), so they start at zero.
  const InitKind norm_init = gemma ? InitKind::kZeros : InitKind::kOnes;
  std::vector<ExpectedTensor> out;
  out.push_back({prefix.body + "embed_tokens.weight",
                 {m.vocab, h},
                 TensorRole::kOther,
                 -1,
                 InitKind::kNormal});
  for (int64_t l = 0; l < m.layers; ++l) {
    const std::string p = prefix.body + "layers." + std::to_string(l) + ".";
    auto add = [&](const std::string& n, std::vector<int64_t> shape,
                   TensorRole role = TensorRole::kOther, InitKind init = InitKind::kNormal) {
      out.push_back({p + n, std::move(shape), role, l, init});
    };
    add("input_layernorm.weight", {h}, TensorRole::kOther, norm_init);
    if (fused) {
      add("self_attn.qkv_proj.weight", {q + 2 * kv, h}, TensorRole::kQkvFused);
    } else {
      add("self_attn.q_proj.weight", {q, h}, TensorRole::kQProj);
      add("self_attn.k_proj.weight", {kv, h}, TensorRole::kKProj);
      add("self_attn.v_proj.weight", {kv, h}, TensorRole::kVProj);
    }
    add("self_attn.o_proj.weight", {h, q}, TensorRole::kOProj, InitKind::kNormalScaled);
    if (m.attention_bias || m.qkv_bias) {
      add("self_attn.q_proj.bias", {q}, TensorRole::kQBias, InitKind::kZeros);
      add("self_attn.k_proj.bias", {kv}, TensorRole::kKBias, InitKind::kZeros);
      add("self_attn.v_proj.bias", {kv}, TensorRole::kVBias, InitKind::kZeros);
    }
    if (m.attention_bias) add("self_attn.o_proj.bias", {h}, TensorRole::kOther, InitKind::kZeros);
    if (m.qk_norm) {
      add("self_attn.q_norm.weight", {m.head_dim}, TensorRole::kOther, norm_init);
      add("self_attn.k_norm.weight", {m.head_dim}, TensorRole::kOther, norm_init);
    }
    add("post_attention_layernorm.weight", {h}, TensorRole::kOther, norm_init);
    if (gemma) {
      add("pre_feedforward_layernorm.weight", {h}, TensorRole::kOther, norm_init);
      add("post_feedforward_layernorm.weight", {h}, TensorRole::kOther, norm_init);
    }
    if (fused) {
      add("mlp.gate_up_proj.weight", {2 * ff, h});
    } else {
      add("mlp.gate_proj.weight", {ff, h});
      add("mlp.up_proj.weight", {ff, h});
    }
    add("mlp.down_proj.weight", {h, ff}, TensorRole::kOther, InitKind::kNormalScaled);
  }
  out.push_back({prefix.body + "norm.weight", {h}, TensorRole::kOther, -1, norm_init});
  if (!m.tie_embeddings)
    out.push_back(
        {prefix.head + "lm_head.weight", {m.vocab, h}, TensorRole::kOther, -1, InitKind::kNormal});
  return out;
}

}  // namespace gqa

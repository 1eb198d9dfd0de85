#pragma once
// A libtorch decoder that mirrors src/model for every family gqa runs: the same tensors under
// their Hugging Face names, the same RMSNorm (Gemma's 1 + w, and its norms around each
// sublayer), rotate-half RoPE with the runtime's tables (config/rope_frequencies.h: Llama-3,
// linear and longrope scaling, partial rotary, Gemma's local base, SmolLM3's layers without
// RoPE), q/k norm (Qwen3, Gemma 3), q/k/v biases (Qwen2), Phi-3's fused projections, SwiGLU or
// GeGLU, sliding windows, tied or separate lm_head, logit soft-capping. GQA by index mapping:
// the queries of a group are viewed as [B, h_kv, n_rep, T, d] and broadcast against their one
// K/V head; K and V are never repeated per query head.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "core/dtype.h"

namespace gqa::train {

struct NamedTensor {
  std::string name;  // HF name, e.g. "model.layers.0.self_attn.k_proj.weight"
  torch::Tensor value;
};

class TorchLlama {
 public:
  // Fresh weights, initialized exactly like `gqa init` with the same seed and std.
  static TorchLlama initialized(const ModelConfig& config, uint64_t seed, double std = 0.02);
  // Weights of a checkpoint folder (config.json + safetensors), widened to `dtype` (kFloat or
  // kDouble). Throws Error for missing, extra or wrongly shaped tensors.
  static TorchLlama load(const std::filesystem::path& dir, torch::ScalarType dtype = torch::kFloat);

  // Writes `dir`/model.safetensors with every parameter in `dtype` (f32, bf16 or f16) and
  // `dir`/config.json. dir must exist; files are written whole or not at all.
  void save(const std::filesystem::path& dir, DType dtype) const;

  // ids: [B, T] int64 -> logits [B, T, vocab]
  torch::Tensor forward(const torch::Tensor& ids) const;
  // Mean next-token cross entropy of ids [B, T] against targets [B, T].
  torch::Tensor loss(const torch::Tensor& ids, const torch::Tensor& targets) const;

  const ModelConfig& config() const { return config_; }
  const std::vector<NamedTensor>& named_parameters() const { return params_; }
  std::vector<torch::Tensor> parameters() const;
  const torch::Tensor& param(const std::string& name) const;
  int64_t parameter_count() const;

 private:
  // One RoPE table's cos and sin over a forward's positions: [T, rotary_dim].
  struct Rotation {
    torch::Tensor cos, sin;
  };
  TorchLlama(ModelConfig config, std::vector<NamedTensor> params);
  // masked: [T, T], true where query t may not see key s (causal, and the window if sliding).
  // rope: null for a layer without RoPE.
  torch::Tensor attention(int64_t layer, const torch::Tensor& h, const Rotation* rope,
                          const torch::Tensor& masked) const;
  torch::Tensor mlp(int64_t layer, const torch::Tensor& h) const;

  ModelConfig config_;
  std::vector<NamedTensor> params_;      // expected_tensors() order
  std::map<std::string, size_t> index_;  // name -> params_ index
};

}  // namespace gqa::train

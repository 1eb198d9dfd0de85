#pragma once
// Small random checkpoints for conversion tests, and reading tensors back as f32.
#include <filesystem>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "convert/random_checkpoint.h"
#include "core/float_codec.h"
#include "io/checkpoint.h"

namespace gqa::test {

inline ModelConfig tiny_config(Architecture arch, int64_t heads, int64_t kv_heads,
                               int64_t head_dim) {
  ModelConfig m;
  m.name = "tiny";
  m.arch = arch;
  m.layers = 2;
  m.heads = heads;
  m.kv_heads = kv_heads;
  m.head_dim = head_dim;
  m.hidden = 36;  // not heads * head_dim on purpose
  m.intermediate = 52;
  m.vocab = 61;
  m.max_positions = 128;
  m.qkv_bias = arch == Architecture::kQwen2;
  m.qk_norm = arch == Architecture::kQwen3 || arch == Architecture::kGemma3;
  m.layer_types.assign(2, LayerAttention::kFull);
  return m;
}

inline void make_checkpoint(const ModelConfig& m, const std::filesystem::path& dir, DType dtype,
                            uint64_t seed, uint64_t max_shard = 0) {
  convert::InitOptions o;
  o.dtype = dtype;
  o.seed = seed;
  o.std = 0.5;  // large values, so pooling differences are far above rounding
  o.max_shard_bytes = max_shard;
  convert::write_random_checkpoint(m, dir, o);
}

inline std::vector<float> read_f32(const io::Checkpoint& ck, const std::string& name) {
  const io::TensorView v = ck.view(name);
  std::vector<float> out(static_cast<size_t>(v.numel()));
  decode_to_f32(v.dtype, v.data.data(), v.numel(), out.data());
  return out;
}

}  // namespace gqa::test

#pragma once
// gqa init: a checkpoint with seeded random weights for any ModelConfig, initialized the way
// Hugging Face initializes a fresh model (normal(0, 0.02) projections and embeddings, unit norm
// weights), with GPT-2-style 1/sqrt(2L) scaling on the residual outputs (o_proj, down_proj) so
// deep random models stay numerically tame. The project's test and benchmark models.
#include <cstdint>
#include <filesystem>
#include <functional>

#include "config/model_config.h"
#include "config/tensor_names.h"
#include "core/dtype.h"
#include "core/random.h"

namespace gqa::convert {

struct InitOptions {
  DType dtype = DType::kBF16;  // f32, bf16 or f16
  uint64_t seed = 0;
  double std = 0.02;  // initializer_range
  uint64_t max_shard_bytes = 0;
  bool force = false;
};

// The initial values of one tensor of expected_tensors(m) (its position `index` there picks its
// random stream), produced in order a chunk at a time: what `gqa init` writes and what
// `gqa train` starts from.
class TensorInitializer {
 public:
  TensorInitializer(const ModelConfig& m, const ExpectedTensor& t, size_t index,
                    const InitOptions& options);
  void fill(float* out, int64_t n);  // the next n values

 private:
  InitKind kind_;
  bool is_bias_;
  double std_, residual_std_;
  Rng rng_;
};

// Writes config.json and the weights to `out` (all or nothing). `progress(done, total)` counts
// bytes. Returns the bytes of weights written.
uint64_t write_random_checkpoint(const ModelConfig& m, const std::filesystem::path& out,
                                 const InitOptions& options,
                                 const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace gqa::convert

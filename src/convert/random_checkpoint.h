#pragma once
// gqa init: a checkpoint with seeded random weights for any ModelConfig, initialized the way
// Hugging Face initializes a fresh model (normal(0, 0.02) projections and embeddings, unit norm
// weights), with GPT-2-style 1/sqrt(2L) scaling on the residual outputs (o_proj, down_proj) so
// deep random models stay numerically tame. The project's test and benchmark models.
#include <cstdint>
#include <filesystem>
#include <functional>

#include "config/model_config.h"
#include "core/dtype.h"

namespace gqa::convert {

struct InitOptions {
  DType dtype = DType::kBF16;  // f32, bf16 or f16
  uint64_t seed = 0;
  double std = 0.02;  // initializer_range
  uint64_t max_shard_bytes = 0;
  bool force = false;
};

// Writes config.json and the weights to `out` (all or nothing). `progress(done, total)` counts
// bytes. Returns the bytes of weights written.
uint64_t write_random_checkpoint(const ModelConfig& m, const std::filesystem::path& out,
                                 const InitOptions& options,
                                 const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace gqa::convert

#pragma once
// KV-cache footprint of one sequence: pure functions of ModelConfig, KV dtype and context.
#include <cstdint>
#include <vector>

#include "config/model_config.h"
#include "core/kv_dtype.h"

namespace gqa::plan {

struct LayerFootprint {
  int64_t layer = 0;
  LayerAttention attention = LayerAttention::kFull;
  int64_t tokens_held = 0;  // ctx, or min(ctx, window) for a sliding layer
  // ceil(tokens_held / block_size); for a sliding layer past its window, the blocks the window
  // of the newest token spans: min(ceil(ctx / bs), ceil((window - 1) / bs) + 1).
  int64_t blocks = 0;
  int64_t bytes_per_token = 0;  // K and V of all KV heads of this layer
  int64_t bytes_at_ctx = 0;     // tokens_held * bytes_per_token
};

struct KvFootprint {
  int64_t bytes_per_token = 0;     // 2 * L * h_kv * vector bytes: every layer keeps the token
  int64_t bytes_at_ctx = 0;        // sum over layers of tokens_held * layer bytes/token
  int64_t bytes_at_ctx_paged = 0;  // the same with tokens rounded up to whole blocks per layer
  int64_t layer_blocks = 0;        // sum over layers of blocks
};

// The longest context the planner takes: a billion tokens, far past any real one.
inline constexpr int64_t kMaxCtx = 1'000'000'000;

// Throws Error when ctx or block_size is not positive or absurd.
void check_ctx_and_block(int64_t ctx, int64_t block_size);

std::vector<LayerFootprint> layer_footprints(const ModelConfig& m, KvDtype dtype, int64_t ctx,
                                             int64_t block_size);
KvFootprint kv_footprint(const ModelConfig& m, KvDtype dtype, int64_t ctx, int64_t block_size);

}  // namespace gqa::plan

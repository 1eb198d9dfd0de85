#pragma once
// How many sessions of ctx tokens fit in a memory budget once the weights are loaded, counted
// the way a paged KV cache allocates: whole blocks of block_size tokens.
#include <cstdint>
#include <optional>

#include "config/model_config.h"
#include "core/dtype.h"
#include "core/kv_dtype.h"

namespace gqa::plan {

struct Capacity {
  int64_t memory_bytes = 0;
  int64_t parameters = 0;
  int64_t weights_bytes = 0;    // parameters * weights dtype size
  int64_t available_bytes = 0;  // memory - weights, or 0 when the weights alone do not fit
  // A block holds block_size tokens of every layer's K and V:
  //   block_bytes = 2 * block_size * h_kv * vector bytes * L.
  int64_t block_bytes = 0;
  int64_t blocks = 0;              // floor(available / block_bytes)
  int64_t blocks_per_session = 0;  // ceil(ctx / block_size) when every layer is full attention
  // Sliding-window layers keep fewer blocks than full ones, so the count is exact per layer:
  // a layer block is block_size tokens of one layer.
  int64_t layer_blocks = 0;              // floor(available / (block_bytes / L))
  int64_t layer_blocks_per_session = 0;  // sum over layers of ceil(tokens_held / block_size)
  int64_t sessions = 0;                  // floor(layer_blocks / layer_blocks_per_session)
  bool weights_fit = true;
};

// weights_bytes, when given, replaces parameters * dtype size (quantized or measured weights;
// parameters is then 0 if the config cannot count them). Throws Error when memory_bytes is not
// positive.
Capacity capacity(const ModelConfig& m, KvDtype dtype, int64_t ctx, int64_t block_size,
                  int64_t memory_bytes, DType weights_dtype,
                  std::optional<int64_t> weights_bytes = std::nullopt);

}  // namespace gqa::plan

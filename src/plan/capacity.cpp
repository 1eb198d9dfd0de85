#include "plan/capacity.h"

#include "core/checked_math.h"
#include "core/error.h"
#include "plan/kv_footprint.h"

namespace gqa::plan {

Capacity capacity(const ModelConfig& m, KvDtype dtype, int64_t ctx, int64_t block_size,
                  int64_t memory_bytes, DType weights_dtype, std::optional<int64_t> weights_bytes) {
  if (memory_bytes <= 0) fail(ErrorKind::kInvalidArgument, "--memory must be positive");
  const KvFootprint kv = kv_footprint(m, dtype, ctx, block_size);
  Capacity c;
  c.memory_bytes = memory_bytes;
  if (weights_bytes) {
    if (*weights_bytes < 0) fail(ErrorKind::kInvalidArgument, "--weights must not be negative");
    c.weights_bytes = *weights_bytes;
    if (m.intermediate != 0 && m.vocab != 0) c.parameters = m.parameter_count();
  } else {
    c.parameters = m.parameter_count();
    c.weights_bytes = checked_mul(c.parameters, dtype_size(weights_dtype), "weight bytes");
  }
  c.weights_fit = c.weights_bytes <= memory_bytes;
  c.available_bytes = c.weights_fit ? memory_bytes - c.weights_bytes : 0;
  const int64_t layer_block_bytes =
      checked_mul(block_size, m.kv_layer_bytes_per_token(dtype), "KV block size");
  c.block_bytes = checked_mul(layer_block_bytes, m.layers, "KV block size");
  c.blocks = c.available_bytes / c.block_bytes;
  c.blocks_per_session = ceil_div(ctx, block_size);
  c.layer_blocks = c.available_bytes / layer_block_bytes;
  c.layer_blocks_per_session = kv.layer_blocks;
  c.sessions = c.layer_blocks / c.layer_blocks_per_session;
  return c;
}

}  // namespace gqa::plan

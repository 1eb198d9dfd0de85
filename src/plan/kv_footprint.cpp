#include "plan/kv_footprint.h"

#include <algorithm>
#include <string>

#include "core/checked_math.h"
#include "core/error.h"

namespace gqa::plan {

namespace {
constexpr int64_t kMaxBlock = 1 << 20;
}  // namespace

void check_ctx_and_block(int64_t ctx, int64_t block_size) {
  if (ctx <= 0)
    fail(ErrorKind::kInvalidArgument, "--ctx must be positive, got " + std::to_string(ctx));
  if (ctx > kMaxCtx)
    fail(ErrorKind::kInvalidArgument,
         "--ctx " + std::to_string(ctx) + " is absurd (at most " + std::to_string(kMaxCtx) + ")");
  if (block_size <= 0)
    fail(ErrorKind::kInvalidArgument,
         "--block-size must be positive, got " + std::to_string(block_size));
  if (block_size > kMaxBlock)
    fail(ErrorKind::kInvalidArgument, "--block-size " + std::to_string(block_size) +
                                          " is absurd (at most " + std::to_string(kMaxBlock) + ")");
}

std::vector<LayerFootprint> layer_footprints(const ModelConfig& m, KvDtype dtype, int64_t ctx,
                                             int64_t block_size) {
  check_ctx_and_block(ctx, block_size);
  const int64_t per_token = m.kv_layer_bytes_per_token(dtype);
  std::vector<LayerFootprint> out;
  out.reserve(static_cast<size_t>(m.layers));
  for (int64_t l = 0; l < m.layers; ++l) {
    LayerFootprint f;
    f.layer = l;
    f.attention = m.layer_types[static_cast<size_t>(l)];
    f.tokens_held = m.layer_tokens_held(l, ctx);
    f.blocks = ceil_div(f.tokens_held, block_size);
    // A sliding layer's window of tokens rarely starts on a block boundary: the cache holds the
    // blocks that the window of the newest position spans, one more than the window's own count
    // (kv::SequenceKv::forget_before).
    if (f.attention == LayerAttention::kSliding && ctx > f.tokens_held)
      f.blocks =
          std::min(ceil_div(ctx, block_size), ceil_div(*m.sliding_window - 1, block_size) + 1);
    f.bytes_per_token = per_token;
    f.bytes_at_ctx = checked_mul(f.tokens_held, per_token, "KV bytes at context");
    out.push_back(f);
  }
  return out;
}

KvFootprint kv_footprint(const ModelConfig& m, KvDtype dtype, int64_t ctx, int64_t block_size) {
  KvFootprint k;
  k.bytes_per_token = m.kv_bytes_per_token(dtype);
  for (const auto& f : layer_footprints(m, dtype, ctx, block_size)) {
    k.bytes_at_ctx = checked_add(k.bytes_at_ctx, f.bytes_at_ctx, "KV bytes at context");
    const int64_t paged = checked_mul(f.blocks * block_size, f.bytes_per_token, "KV bytes");
    k.bytes_at_ctx_paged = checked_add(k.bytes_at_ctx_paged, paged, "KV bytes at context");
    k.layer_blocks += f.blocks;
  }
  return k;
}

}  // namespace gqa::plan

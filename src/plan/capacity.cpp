#include "plan/capacity.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "core/byte_size.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "plan/kv_footprint.h"

namespace gqa::plan {
namespace {

// Layer blocks one session of ctx tokens takes (per GPU: the count does not depend on heads).
int64_t layer_blocks_at(const ModelConfig& m, KvDtype dtype, int64_t ctx, int64_t block_size) {
  return kv_footprint(m, dtype, ctx, block_size).layer_blocks;
}

}  // namespace

bool tp_splits(int64_t kv_heads, int64_t tp) {
  return tp >= 1 && (kv_heads % tp == 0 || tp % kv_heads == 0);
}

void check_tp(int64_t kv_heads, int64_t tp) {
  if (tp < 1 || tp > 1024)
    fail(ErrorKind::kInvalidArgument, "--tp must be between 1 and 1024, got " + std::to_string(tp));
  if (!tp_splits(kv_heads, tp))
    fail(ErrorKind::kInvalidArgument,
         "--tp " + std::to_string(tp) + " cannot split " + std::to_string(kv_heads) +
             " KV heads: it must divide them or be a multiple of them (KV heads are replicated "
             "past tp = h_kv)");
}

void parse_overhead(std::string_view text, int64_t& bytes, double& fraction) {
  bytes = 0;
  fraction = 0;
  if (text.ends_with('%')) {
    const std::string number(text.substr(0, text.size() - 1));
    char* end = nullptr;
    const double pct = std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size() || !(pct >= 0 && pct < 100))
      fail(ErrorKind::kInvalidArgument, "bad overhead '" + std::string(text) +
                                            "': a percentage of memory below 100% (e.g. 10%) "
                                            "or a size (e.g. 2GiB)");
    fraction = pct / 100;
    return;
  }
  try {
    bytes = parse_byte_size(text, /*zero_ok=*/true);
  } catch (const Error&) {
    fail(ErrorKind::kInvalidArgument, "bad overhead '" + std::string(text) +
                                          "': a percentage of memory below 100% (e.g. 10%) or "
                                          "a size (e.g. 2GiB)");
  }
}

Capacity capacity(const ModelConfig& m, KvDtype dtype, int64_t ctx, int64_t block_size,
                  const CapacityRequest& q) {
  if (q.memory_bytes <= 0) fail(ErrorKind::kInvalidArgument, "--memory must be positive");
  check_tp(m.kv_heads, q.tp);
  if (q.overhead_bytes < 0 || !(q.overhead_fraction >= 0 && q.overhead_fraction < 1))
    fail(ErrorKind::kInvalidArgument, "--overhead must be at least 0 and below 100% of memory");
  Capacity c;
  c.memory_bytes = q.memory_bytes;
  c.tp = q.tp;
  if (q.weights_bytes) {
    if (*q.weights_bytes < 0) fail(ErrorKind::kInvalidArgument, "--weights must not be negative");
    c.weights_bytes = *q.weights_bytes;
    if (m.intermediate != 0 && m.vocab != 0) c.parameters = m.parameter_count();
  } else {
    c.parameters = m.parameter_count();
    c.weights_bytes = weights_bytes(m, q.weights);
  }
  c.gpu_weights_bytes = ceil_div(c.weights_bytes, q.tp);
  c.overhead_bytes =
      q.overhead_bytes +
      static_cast<int64_t>(std::floor(q.overhead_fraction * static_cast<double>(q.memory_bytes)));
  const int64_t fixed = c.gpu_weights_bytes + c.overhead_bytes;
  c.weights_fit = fixed <= q.memory_bytes;
  c.available_bytes = c.weights_fit ? q.memory_bytes - fixed : 0;

  // One GPU's share of the KV heads, as a model of its own (the footprint counts its bytes).
  c.kv_heads_per_gpu = m.kv_heads >= q.tp ? m.kv_heads / q.tp : 1;
  c.kv_head_replicas = m.kv_heads >= q.tp ? 1 : q.tp / m.kv_heads;
  const ModelConfig gpu = m.regrouped(c.kv_heads_per_gpu);
  c.gpu_kv_bytes_per_token = gpu.kv_bytes_per_token(dtype);
  const int64_t layer_block_bytes =
      checked_mul(block_size, gpu.kv_layer_bytes_per_token(dtype), "KV block size");
  c.block_bytes = checked_mul(layer_block_bytes, m.layers, "KV block size");
  c.blocks = c.available_bytes / c.block_bytes;
  c.blocks_per_session = ceil_div(ctx, block_size);
  c.layer_blocks = c.available_bytes / layer_block_bytes;
  c.layer_blocks_per_session = layer_blocks_at(gpu, dtype, ctx, block_size);
  c.sessions = c.layer_blocks / c.layer_blocks_per_session;

  if (q.users) {
    const int64_t users = *q.users;
    c.gpu_bytes_needed =
        checked_add(fixed,
                    checked_mul(checked_mul(users, c.layer_blocks_per_session, "KV blocks"),
                                layer_block_bytes, "KV bytes"),
                    "memory needed");
    c.fits = *c.gpu_bytes_needed <= q.memory_bytes;
    // The longest context each user can have, up to the model's max_position_embeddings (all
    // sliding-window layers stop growing at the window): layer blocks grow with ctx, so bisect.
    const int64_t budget = c.layer_blocks / users;
    const int64_t limit = m.max_positions > 0 ? std::min(m.max_positions, kMaxCtx) : kMaxCtx;
    int64_t lo = 0, hi = std::min(limit, checked_mul(budget + 1, block_size, "context"));
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo + 1) / 2;
      if (layer_blocks_at(gpu, dtype, mid, block_size) <= budget)
        lo = mid;
      else
        hi = mid - 1;
    }
    c.max_ctx = lo;
  }
  return c;
}

}  // namespace gqa::plan

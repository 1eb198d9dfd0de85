#pragma once
// Does it fit? The memory of one GPU (or host) against the weights, a runtime overhead and the
// KV cache of every user, counted the way a paged KV cache allocates: whole blocks of
// block_size tokens, per layer (sliding-window layers hold fewer). With tensor parallelism over
// tp GPUs each GPU holds 1/tp of the weights and h_kv/tp KV heads; a KV head cannot be split,
// so past tp = h_kv every GPU holds one KV head (replicated tp/h_kv times).
#include <cstdint>
#include <optional>
#include <string_view>

#include "config/model_config.h"
#include "core/dtype.h"
#include "core/kv_dtype.h"
#include "plan/weights_format.h"

namespace gqa::plan {

struct CapacityRequest {
  int64_t memory_bytes = 0;  // of one GPU
  WeightsFormat weights;
  std::optional<int64_t> weights_bytes;  // measured total, instead of counting parameters
  int64_t tp = 1;                        // GPUs the model is split over
  // Runtime overhead (activations, CUDA context, allocator slack) in each GPU: bytes, or a
  // fraction of memory_bytes; the two add.
  int64_t overhead_bytes = 0;
  double overhead_fraction = 0;
  std::optional<int64_t> users;  // asked for: the verdict and the largest context

  // `bytes` of KV pool alone, no weights: what a pool of that size holds (the server's and
  // the runtime's question, where the weights live elsewhere).
  static CapacityRequest pool_only(int64_t bytes) {
    CapacityRequest r;
    r.memory_bytes = bytes;
    r.weights_bytes = 0;
    return r;
  }
};

struct Capacity {
  int64_t memory_bytes = 0;   // per GPU
  int64_t parameters = 0;     // the whole model
  int64_t weights_bytes = 0;  // the whole model
  int64_t tp = 1;
  int64_t kv_heads_per_gpu = 0;
  int64_t kv_head_replicas = 1;   // copies of each KV head across the GPUs
  int64_t gpu_weights_bytes = 0;  // ceil(weights / tp)
  int64_t overhead_bytes = 0;     // per GPU
  int64_t available_bytes = 0;    // memory - weights - overhead per GPU, or 0 when negative
  bool weights_fit = true;        // weights and overhead fit without any KV
  int64_t gpu_kv_bytes_per_token = 0;
  // A block holds block_size tokens of every layer's K and V (per GPU):
  //   block_bytes = 2 * block_size * h_kv_per_gpu * vector bytes * L.
  int64_t block_bytes = 0;
  int64_t blocks = 0;              // floor(available / block_bytes)
  int64_t blocks_per_session = 0;  // ceil(ctx / block_size) when every layer is full attention
  // Sliding-window layers keep fewer blocks than full ones, so the count is exact per layer:
  // a layer block is block_size tokens of one layer.
  int64_t layer_blocks = 0;              // floor(available / (block_bytes / L))
  int64_t layer_blocks_per_session = 0;  // sum over layers of ceil(tokens_held / block_size)
  int64_t sessions = 0;                  // floor(layer_blocks / layer_blocks_per_session)
  // With users: what they need per GPU (weights + overhead + their KV, paged), whether that
  // fits, and the longest context each of them can have (0 when not even one block fits).
  std::optional<int64_t> gpu_bytes_needed;
  std::optional<bool> fits;
  std::optional<int64_t> max_ctx;
};

// Whether tp GPUs can share kv_heads: tp divides them or is a multiple of them (replicas).
bool tp_splits(int64_t kv_heads, int64_t tp);
// Throws Error naming the KV heads when tp_splits is false or tp is out of range.
void check_tp(int64_t kv_heads, int64_t tp);

// A runtime overhead as people write it: "10%" (of the memory) or a size ("1.5GiB"). Throws
// Error naming the forms.
void parse_overhead(std::string_view text, int64_t& bytes, double& fraction);

// Throws Error when memory_bytes is not positive, tp does not split the KV heads (it must
// divide h_kv or be a multiple of it) or the overhead is negative.
Capacity capacity(const ModelConfig& m, KvDtype dtype, int64_t ctx, int64_t block_size,
                  const CapacityRequest& request);

}  // namespace gqa::plan

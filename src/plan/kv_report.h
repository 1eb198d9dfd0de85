#pragma once
// The planner's answer to one question ("this model, this KV dtype, this context, these users,
// this memory"), for the current grouping, the MHA baseline and optionally every grouping.
#include <cstdint>
#include <optional>
#include <vector>

#include "config/model_config.h"
#include "core/dtype.h"
#include "core/kv_dtype.h"
#include "plan/capacity.h"
#include "plan/kv_footprint.h"

namespace gqa::plan {

struct KvRequest {
  ModelConfig model;                // as loaded; kv_heads below regroups it
  std::optional<int64_t> kv_heads;  // what-if grouping; must divide model.heads
  KvDtype kv_dtype = KvDtype::kF16;
  int64_t ctx = 4096;
  int64_t block_size = 16;  // vLLM's default
  std::optional<int64_t> users;
  std::optional<int64_t> memory_bytes;
  WeightsFormat weights;                 // bf16 unless the config or the user says otherwise
  std::optional<int64_t> weights_bytes;  // overrides counting parameters in that format
  int64_t tp = 1;                        // GPUs the model is split over (memory is per GPU)
  int64_t overhead_bytes = 0;            // runtime overhead per GPU: bytes plus
  double overhead_fraction = 0;          // a fraction of memory
  bool sweep = false;                    // every divisor of the query heads, MHA to MQA
  bool per_layer = false;                // a footprint per layer (sliding windows)
};

struct KvRow {
  int64_t kv_heads = 0;
  int64_t n_rep = 0;  // query heads per KV head
  KvFootprint footprint;
  double compression = 1.0;             // MHA bytes/token / these bytes/token, same KV dtype
  double compression_vs_mha_f16 = 1.0;  // MHA in f16 / these bytes/token, dtype included
  std::optional<int64_t> bytes_total;   // users * bytes_at_ctx
  std::optional<Capacity> capacity;     // with memory, when the TP degree splits these KV heads
  std::vector<int64_t> tp_even;  // tensor-parallel degrees (of 1..16) that split the KV heads
};

struct KvReport {
  KvRequest request;
  ModelConfig model;  // regrouped to the current kv_heads
  KvRow mha;          // the baseline: kv_heads == heads
  KvRow current;
  std::vector<KvRow> sweep;            // with request.sweep, MHA first, MQA last
  std::vector<LayerFootprint> layers;  // with request.per_layer, current grouping
};

// Validates the whole request first (grouping, ctx, block size, users), then computes.
KvReport make_report(const KvRequest& request);

// "MHA", "MQA" or "GQA-8".
std::string grouping_name(int64_t kv_heads, int64_t heads);

}  // namespace gqa::plan

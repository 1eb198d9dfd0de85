#pragma once
// gqa convert: MHA -> GQA (or GQA -> fewer groups) on a Hugging Face checkpoint, streaming
// tensor by tensor from the mapped source into a temporary folder renamed into place at the end.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "convert/calibration.h"
#include "convert/group_plan.h"
#include "core/dtype.h"

namespace gqa::convert {

struct ConvertOptions {
  int64_t kv_heads = 0;
  PoolMethod method = PoolMethod::kMean;
  Grouping grouping = Grouping::kContiguous;
  // Attention-input statistics of the source model (--calib); null: weights alone. Used by
  // svd and similar grouping.
  const AttentionInputStats* calibration = nullptr;
  std::optional<DType> dtype;    // output dtype of floating-point tensors; empty: keep
  uint64_t seed = 0;             // for kRandom
  uint64_t max_shard_bytes = 0;  // 0: one model.safetensors
  bool force = false;            // replace an existing destination
};

struct ConvertProgress {
  uint64_t bytes_done = 0;  // source bytes processed
  uint64_t bytes_total = 0;
  const std::string* tensor = nullptr;
};

struct ConvertResult {
  int64_t source_kv_heads = 0;
  int64_t target_kv_heads = 0;
  int64_t pooled_tensors = 0;  // rewritten: K/V pooled or merged, q/o with maps folded in
  int64_t copied_tensors = 0;
  std::vector<std::vector<int64_t>> layer_order;  // per layer, source KV heads in group order
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  int64_t weight_files = 0;
};

// Validates the whole plan (config, tensor names and shapes, dtypes, grouping, destination)
// before writing anything. SRC is never modified; on any error nothing is left at DST.
ConvertResult convert_checkpoint(const std::filesystem::path& src, const std::filesystem::path& dst,
                                 const ConvertOptions& options,
                                 const std::function<void(const ConvertProgress&)>& progress = {});

}  // namespace gqa::convert

#pragma once
// Common GPUs and their memory, for "does it fit?" without looking the number up: the nominal
// capacity the vendor lists (binary GiB, as HBM and GDDR are sized). What a framework can use is
// a little less; the planner's overhead setting covers that and the runtime's own needs.
#include <cstdint>
#include <span>
#include <string>

namespace gqa::plan {

struct Gpu {
  std::string key;      // "h100-80gb"
  std::string display;  // "NVIDIA H100 80GB"
  int64_t memory_bytes = 0;
};

std::span<const Gpu> gpus();
// By key, case-insensitive; null when unknown.
const Gpu* find_gpu(std::string_view key);

}  // namespace gqa::plan

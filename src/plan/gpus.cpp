#include "plan/gpus.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace gqa::plan {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

const std::vector<Gpu>& table() {
  static const std::vector<Gpu> t = {
      {"t4", "NVIDIA T4", 16 * kGiB},
      {"l4", "NVIDIA L4", 24 * kGiB},
      {"a10", "NVIDIA A10", 24 * kGiB},
      {"rtx-3090", "NVIDIA GeForce RTX 3090", 24 * kGiB},
      {"rtx-4090", "NVIDIA GeForce RTX 4090", 24 * kGiB},
      {"rtx-5090", "NVIDIA GeForce RTX 5090", 32 * kGiB},
      {"l40s", "NVIDIA L40S", 48 * kGiB},
      {"rtx-6000-ada", "NVIDIA RTX 6000 Ada", 48 * kGiB},
      {"a100-40gb", "NVIDIA A100 40GB", 40 * kGiB},
      {"a100-80gb", "NVIDIA A100 80GB", 80 * kGiB},
      {"h100-80gb", "NVIDIA H100 80GB", 80 * kGiB},
      {"h200", "NVIDIA H200 141GB", 141 * kGiB},
      {"b200", "NVIDIA B200 180GB", 180 * kGiB},
      {"mi300x", "AMD Instinct MI300X 192GB", 192 * kGiB},
      {"mi325x", "AMD Instinct MI325X 256GB", 256 * kGiB},
  };
  return t;
}

}  // namespace

std::span<const Gpu> gpus() {
  return table();
}

const Gpu* find_gpu(std::string_view key) {
  for (const Gpu& g : table())
    if (std::equal(g.key.begin(), g.key.end(), key.begin(), key.end(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return &g;
  return nullptr;
}

}  // namespace gqa::plan

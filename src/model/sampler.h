#pragma once
// Choosing the next token from logits: greedy (temperature 0), or temperature, top-k and top-p
// (nucleus) sampling from a seeded generator.
#include <cstdint>
#include <span>
#include <vector>

#include "core/random.h"

namespace gqa::model {

struct SamplerOptions {
  double temperature = 0.0;  // 0: greedy
  int64_t top_k = 0;         // 0: no limit
  double top_p = 1.0;        // 1: no limit
  uint64_t seed = 0;
};

class Sampler {
 public:
  // Throws Error for a negative temperature, negative top-k or top-p outside (0, 1].
  explicit Sampler(const SamplerOptions& o);
  int32_t sample(std::span<const float> logits);

 private:
  SamplerOptions o_;
  Rng rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

}  // namespace gqa::model

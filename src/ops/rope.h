#pragma once
// Rotary position embedding in the Hugging Face rotate-half layout: within a head of d values,
// value i pairs with value i + d/2. Frequencies follow the config's rope_theta and, when given,
// Llama-3 or linear rope_scaling.
#include <cstdint>
#include <optional>
#include <vector>

#include "config/model_config.h"

namespace gqa::ops {

class Rope {
 public:
  // Throws Error for scaling types the runtime does not implement (yarn, longrope, dynamic).
  Rope(int64_t head_dim, double theta, const std::optional<RopeScaling>& scaling);

  // Rotates n_heads vectors of head_dim values at `pos`, in place. x: [n_heads, head_dim].
  void apply(float* x, int64_t n_heads, int64_t pos) const;
  const std::vector<float>& inv_freq() const { return inv_freq_; }

 private:
  int64_t head_dim_;
  std::vector<float> inv_freq_;  // [head_dim / 2]
};

}  // namespace gqa::ops

#pragma once
// Rotary position embedding in the Hugging Face rotate-half layout: of a head's first
// rotary_dim = 2 * inv_freq.size() values, value i pairs with value i + rotary_dim / 2; the
// values past rotary_dim (partial rotary) are left as they are. The frequencies are config
// arithmetic (config/rope_frequencies.h), passed in as a table.
#include <cstdint>
#include <vector>

namespace gqa::ops {

class Rope {
 public:
  // inv_freq: [rotary_dim / 2], rotary_dim <= head_dim. cos and sin are multiplied by scale
  // (longrope's attention factor). Throws Error when the table does not fit.
  Rope(int64_t head_dim, std::vector<float> inv_freq, float scale = 1.0f);

  // Rotates n_heads vectors of head_dim values at `pos`, in place. x: [n_heads, head_dim].
  void apply(float* x, int64_t n_heads, int64_t pos) const;
  const std::vector<float>& inv_freq() const { return inv_freq_; }

 private:
  int64_t head_dim_;
  std::vector<float> inv_freq_;  // [rotary_dim / 2]
  float scale_;
};

}  // namespace gqa::ops

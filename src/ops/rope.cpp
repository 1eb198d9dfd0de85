#include "ops/rope.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace gqa::ops {

Rope::Rope(int64_t head_dim, std::vector<float> inv_freq, float scale)
    : head_dim_(head_dim), inv_freq_(std::move(inv_freq)), scale_(scale) {
  if (head_dim <= 0 || 2 * static_cast<int64_t>(inv_freq_.size()) > head_dim)
    fail(ErrorKind::kInvalidArgument, "RoPE table of " + std::to_string(inv_freq_.size()) +
                                          " frequencies does not fit a head of " +
                                          std::to_string(head_dim) + " values");
}

void Rope::apply(float* x, int64_t n_heads, int64_t pos) const {
  const auto half = static_cast<int64_t>(inv_freq_.size());
  for (int64_t i = 0; i < half; ++i) {
    const float angle =
        static_cast<float>(pos) * inv_freq_[static_cast<size_t>(i)];  // f32, as transformers
    const float c = std::cos(angle) * scale_, s = std::sin(angle) * scale_;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim_;
      const float a = v[i], b = v[i + half];
      v[i] = a * c - b * s;
      v[i + half] = b * c + a * s;
    }
  }
}

}  // namespace gqa::ops

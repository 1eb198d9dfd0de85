#include "ops/rope.h"

#include <cmath>
#include <numbers>
#include <string>

#include "core/error.h"

namespace gqa::ops {

Rope::Rope(int64_t head_dim, double theta, const std::optional<RopeScaling>& scaling)
    : head_dim_(head_dim) {
  const int64_t half = head_dim / 2;
  inv_freq_.resize(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv_freq_[i] = static_cast<float>(
        1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(head_dim)));
  if (!scaling) return;
  const RopeScaling& s = *scaling;
  if (s.type == "linear") {
    for (float& f : inv_freq_) f = static_cast<float>(f / s.factor);
  } else if (s.type == "llama3") {
    // transformers' _compute_llama3_parameters: low frequencies slowed by `factor`, high ones
    // kept, the band between interpolated.
    const double old_ctx = static_cast<double>(s.original_max_positions);
    const double low_wavelen = old_ctx / s.low_freq_factor;
    const double high_wavelen = old_ctx / s.high_freq_factor;
    for (float& f : inv_freq_) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f = static_cast<float>(f / s.factor);
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = static_cast<float>((1.0 - smooth) * f / s.factor + smooth * f);
      }
    }
  } else {
    fail(ErrorKind::kUnsupported,
         "rope_scaling type '" + s.type + "' is not supported by the runtime (llama3, linear are)");
  }
}

void Rope::apply(float* x, int64_t n_heads, int64_t pos) const {
  const int64_t half = head_dim_ / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float angle = static_cast<float>(pos) * inv_freq_[i];  // f32, as transformers
    const float c = std::cos(angle), s = std::sin(angle);
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim_;
      const float a = v[i], b = v[i + half];
      v[i] = a * c - b * s;
      v[i + half] = b * c + a * s;
    }
  }
}

}  // namespace gqa::ops

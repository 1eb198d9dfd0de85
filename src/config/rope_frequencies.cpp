#include "config/rope_frequencies.h"

#include <cmath>
#include <numbers>
#include <string>

#include "core/error.h"

namespace gqa {
namespace {

// transformers' _compute_llama3_parameters: low frequencies slowed by `factor`, high ones kept,
// the band between interpolated.
void apply_llama3_scaling(const RopeScaling& s, std::vector<float>& inv_freq) {
  const double old_ctx = static_cast<double>(s.original_max_positions);
  const double low_wavelen = old_ctx / s.low_freq_factor;
  const double high_wavelen = old_ctx / s.high_freq_factor;
  for (float& f : inv_freq) {
    const double wavelen = 2.0 * std::numbers::pi / f;
    if (wavelen > low_wavelen) {
      f = static_cast<float>(f / s.factor);
    } else if (wavelen >= high_wavelen) {
      const double smooth =
          (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = static_cast<float>((1.0 - smooth) * f / s.factor + smooth * f);
    }
  }
}

}  // namespace

std::vector<float> rope_inv_freq(int64_t rotary_dim, double theta,
                                 const std::optional<RopeScaling>& scaling) {
  if (rotary_dim <= 0 || rotary_dim % 2 != 0)
    fail(ErrorKind::kInvalidArgument,
         "RoPE needs a positive, even rotary dimension, not " + std::to_string(rotary_dim));
  const int64_t half = rotary_dim / 2;
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv_freq[static_cast<size_t>(i)] = static_cast<float>(
        1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(rotary_dim)));
  if (!scaling) return inv_freq;
  const RopeScaling& s = *scaling;
  if (s.type == "linear") {
    for (float& f : inv_freq) f = static_cast<float>(f / s.factor);
  } else if (s.type == "llama3") {
    apply_llama3_scaling(s, inv_freq);
  } else {
    fail(ErrorKind::kUnsupported,
         "rope_scaling type '" + s.type + "' is not supported by the runtime (llama3, linear are)");
  }
  return inv_freq;
}

std::vector<float> rope_inv_freq(const ModelConfig& c) {
  return rope_inv_freq(c.head_dim, c.rope_theta, c.rope_scaling);
}

}  // namespace gqa

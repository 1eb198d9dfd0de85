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
  const double factor = s.factor.value_or(1.0);
  const double old_ctx = static_cast<double>(s.original_max_positions);
  const double low_wavelen = old_ctx / s.low_freq_factor;
  const double high_wavelen = old_ctx / s.high_freq_factor;
  for (float& f : inv_freq) {
    const double wavelen = 2.0 * std::numbers::pi / f;
    if (wavelen > low_wavelen) {
      f = static_cast<float>(f / factor);
    } else if (wavelen >= high_wavelen) {
      const double smooth =
          (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = static_cast<float>((1.0 - smooth) * f / factor + smooth * f);
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
    for (float& f : inv_freq) f = static_cast<float>(f / s.factor.value_or(1.0));
  } else if (s.type == "llama3") {
    apply_llama3_scaling(s, inv_freq);
  } else if (s.type != "default") {
    fail(ErrorKind::kUnsupported, "rope_scaling type '" + s.type +
                                      "' is not supported by the runtime (llama3, linear and "
                                      "longrope are)");
  }
  return inv_freq;
}

namespace {

// transformers' _compute_longrope_parameters: theta^(-2i/d) divided by the i-th short or long
// factor; cos and sin scaled by attention_factor, by default sqrt(1 + ln(s) / ln(original)) for
// s = max_position_embeddings / original_max_position_embeddings > 1.
RopeTable longrope_table(const ModelConfig& c, bool long_context) {
  const RopeScaling& s = *c.rope_scaling;
  const int64_t dim = c.rotary_dim();
  const std::vector<double>& ext = long_context ? s.long_factor : s.short_factor;
  RopeTable t;
  for (int64_t i = 0; i < dim / 2; ++i) {
    const double base_pow =
        std::pow(c.rope_theta, static_cast<double>(2 * i) / static_cast<double>(dim));
    t.inv_freq.push_back(static_cast<float>(1.0 / (ext[static_cast<size_t>(i)] * base_pow)));
  }
  const auto original = static_cast<double>(longrope_switch(c));
  if (original < 2)
    fail(ErrorKind::kInvalidArgument,
         "rope_scaling longrope needs original_max_position_embeddings of at least 2");
  const double factor = s.factor.value_or(static_cast<double>(c.max_positions) / original);
  double attention = 1.0;
  if (s.attention_factor)
    attention = *s.attention_factor;
  else if (factor > 1.0)
    attention = std::sqrt(1.0 + std::log(factor) / std::log(original));
  t.attention_scale = attention;
  return t;
}

}  // namespace

int64_t longrope_switch(const ModelConfig& c) {
  if (!c.rope_scaling || c.rope_scaling->type != "longrope") return 0;
  if (c.rope_scaling->original_max_positions > 0) return c.rope_scaling->original_max_positions;
  if (c.original_max_positions > 0) return c.original_max_positions;
  return c.max_positions;
}

RopeTable rope_table(const ModelConfig& c, int64_t layer, bool long_context) {
  if (!c.uses_rope(layer)) return {};
  const bool local = c.arch == Architecture::kGemma3 &&
                     c.layer_types.at(static_cast<size_t>(layer)) == LayerAttention::kSliding;
  if (local) return {rope_inv_freq(c.rotary_dim(), c.rope_local_theta, std::nullopt)};
  if (c.rope_scaling && c.rope_scaling->type == "longrope") return longrope_table(c, long_context);
  return {rope_inv_freq(c.rotary_dim(), c.rope_theta, c.rope_scaling)};
}

std::vector<float> rope_inv_freq(const ModelConfig& c) {
  for (int64_t l = 0; l < c.layers; ++l)
    if (c.uses_rope(l)) return rope_table(c, l).inv_freq;
  return {};
}

}  // namespace gqa

#pragma once
// RoPE's inverse frequencies as config arithmetic: theta^(-2i/d) for each rotated pair, with the
// config's rope_scaling applied (Llama 3, linear). The runtime (ops::Rope) and the trainer take
// the same table from here, so both rotate by the same f32 angles as transformers does.
#include <cstdint>
#include <optional>
#include <vector>

#include "config/model_config.h"

namespace gqa {

// [rotary_dim / 2] in f32, computed as transformers' default and llama3 rope init do. Throws
// Error (kUnsupported) for scaling types not implemented (yarn, longrope, dynamic) and
// kInvalidArgument for an odd or non-positive rotary_dim.
std::vector<float> rope_inv_freq(int64_t rotary_dim, double theta,
                                 const std::optional<RopeScaling>& scaling);

// The table of a config's full-attention layers: rotary_dim = head_dim.
std::vector<float> rope_inv_freq(const ModelConfig& c);

}  // namespace gqa

#pragma once
// RoPE's inverse frequencies as config arithmetic: theta^(-2i/d) for each rotated pair, with the
// config's rope_scaling applied (Llama 3, linear, Phi-3's longrope). The runtime (ops::Rope) and
// the trainer take the same tables from here, so both rotate by the f32 angles transformers uses.
#include <cstdint>
#include <optional>
#include <vector>

#include "config/model_config.h"

namespace gqa {

// [rotary_dim / 2] in f32, computed as transformers' default, linear and llama3 rope inits do.
// Throws Error (kUnsupported) for scaling types not implemented here (yarn, dynamic; longrope
// needs the config: rope_table) and kInvalidArgument for an odd or non-positive rotary_dim.
std::vector<float> rope_inv_freq(int64_t rotary_dim, double theta,
                                 const std::optional<RopeScaling>& scaling);

// One layer's rotation: the frequencies of its rotated pairs and the factor that cos and sin are
// multiplied by (longrope's attention factor, else 1). Empty inv_freq: the layer has no RoPE.
struct RopeTable {
  std::vector<float> inv_freq;  // [rotary_dim / 2]
  double attention_scale = 1.0;
};

// The table layer `layer` rotates with: Gemma 3's sliding layers use rope_local_base_freq and no
// scaling, SmolLM3's no-RoPE layers none, the others rope_theta with rope_scaling. long_context
// picks longrope's long factors (see longrope_switch).
RopeTable rope_table(const ModelConfig& c, int64_t layer, bool long_context = false);

// longrope (Phi-3): transformers takes the long factors for a forward call whose last position
// + 1 exceeds this (original_max_position_embeddings), the short ones otherwise. Keys already
// cached keep the rotation they were stored with. 0: the config has no such switch.
int64_t longrope_switch(const ModelConfig& c);

// The table of a config's full-attention layers (layer 0's kind, for the planner and tests).
std::vector<float> rope_inv_freq(const ModelConfig& c);

}  // namespace gqa

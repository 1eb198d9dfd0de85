#pragma once
// Built-in model configurations, by short name, from the published config.json files listed in
// shared/reference/model-configs.md.
#include <string>
#include <string_view>
#include <vector>

#include "config/model_config.h"

namespace gqa {

struct Preset {
  std::string key;      // short name: "llama-2-7b"
  std::string display;  // "Llama-2-7B"
  std::string hf_repo;  // where its config.json is published
  ModelConfig config;   // validated; config.name == display
};

const std::vector<Preset>& presets();

// Looks up a preset by short name (case-insensitive; "Llama-2-7B" and "llama2-7b" also match).
// Returns nullptr when there is none.
const Preset* find_preset(std::string_view name);

// The error for an unknown name: lists the presets and says how to pass a config instead.
[[noreturn]] void fail_unknown_preset(std::string_view name);

}  // namespace gqa

#pragma once
// How a subcommand names a model: a preset, a config.json (or checkpoint folder), or the shape
// given by hand. Shared by every subcommand that takes a model.
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "config/model_config.h"

namespace gqa::cli {

struct ModelSource {
  std::string model;   // positional: preset name, config.json path or checkpoint folder
  std::string config;  // --config FILE
  int64_t layers = 0, heads = 0, head_dim = 0, hidden = 0, intermediate = 0, vocab = 0;
  int64_t max_positions = 4096;
  CLI::Option* layers_opt = nullptr;
  CLI::Option* heads_opt = nullptr;
  CLI::Option* head_dim_opt = nullptr;
  CLI::Option* hidden_opt = nullptr;
  CLI::Option* intermediate_opt = nullptr;
  CLI::Option* vocab_opt = nullptr;
  CLI::Option* max_positions_opt = nullptr;
  // gqa train: --vocab sizes the tokenizer it trains, so it may come with any model source.
  bool vocab_sizes_tokenizer = false;
};

// Adds MODEL, --config, --layers, --heads, --head-dim, --hidden, --intermediate, --vocab,
// --max-positions.
void add_model_source(CLI::App& cmd, ModelSource& src);

// The model the options name; one given by hand is MHA (regroup it with --kv-heads). Throws
// gqa::Error for a missing, unknown or contradictory choice.
ModelConfig resolve_model(const ModelSource& src);

}  // namespace gqa::cli

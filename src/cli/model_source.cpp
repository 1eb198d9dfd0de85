#include "cli/model_source.h"

#include <filesystem>

#include "config/hf_config.h"
#include "config/presets.h"
#include "core/error.h"

namespace gqa::cli {

void add_model_source(CLI::App& cmd, ModelSource& src) {
  cmd.add_option("model", src.model,
                 "Preset name (see --list-presets), config.json file or checkpoint folder");
  cmd.add_option("--config", src.config, "A Hugging Face config.json (or the folder holding it)");
  auto group = "Model by hand";
  src.layers_opt = cmd.add_option("--layers", src.layers, "Decoder layers L")->group(group);
  src.heads_opt = cmd.add_option("--heads", src.heads, "Query heads H")->group(group);
  src.head_dim_opt = cmd.add_option("--head-dim", src.head_dim, "Head dimension d_h")->group(group);
  src.hidden_opt =
      cmd.add_option("--hidden", src.hidden, "Hidden size (default H * d_h)")->group(group);
  src.intermediate_opt =
      cmd.add_option("--intermediate", src.intermediate, "MLP size (for parameter counts)")
          ->group(group);
  src.vocab_opt =
      cmd.add_option("--vocab", src.vocab, "Vocabulary (for parameter counts)")->group(group);
  src.max_positions_opt =
      cmd.add_option("--max-positions", src.max_positions, "Longest context (default 4096)")
          ->group(group);
}

ModelConfig resolve_model(const ModelSource& src) {
  const bool by_hand =
      src.layers_opt->count() || src.heads_opt->count() || src.head_dim_opt->count() ||
      src.hidden_opt->count() || src.intermediate_opt->count() ||
      (src.vocab_opt->count() && !src.vocab_sizes_tokenizer) || src.max_positions_opt->count();
  const int sources =
      (src.model.empty() ? 0 : 1) + (src.config.empty() ? 0 : 1) + (by_hand ? 1 : 0);
  if (sources == 0)
    fail(ErrorKind::kInvalidArgument,
         "no model: give a preset name (see --list-presets), --config FILE, or "
         "--layers --heads --head-dim");
  if (sources > 1)
    fail(ErrorKind::kInvalidArgument,
         "give the model one way only: a preset or path, --config, or --layers/--heads/--head-dim");
  if (!src.config.empty()) return load_hf_config(src.config);
  if (!src.model.empty()) {
    if (const Preset* p = find_preset(src.model)) return p->config;
    std::error_code ec;
    if (std::filesystem::exists(src.model, ec)) return load_hf_config(src.model);
    fail_unknown_preset(src.model);
  }
  if (!src.layers_opt->count() || !src.heads_opt->count() || !src.head_dim_opt->count())
    fail(ErrorKind::kInvalidArgument,
         "a model by hand needs all of --layers, --heads and --head-dim");
  ModelConfig c;
  c.name = "custom";
  c.layers = src.layers;
  c.heads = src.heads;
  c.head_dim = src.head_dim;
  c.kv_heads = src.heads;
  const bool sane = src.heads > 0 && src.heads <= (1 << 20) && src.head_dim > 0 &&
                    src.head_dim <= (1 << 20);  // else validate() names the bad field
  c.hidden = src.hidden_opt->count() ? src.hidden : (sane ? src.heads * src.head_dim : 0);
  c.intermediate = src.intermediate;
  c.vocab = src.vocab;
  c.max_positions = src.max_positions;
  if (c.layers > 0) c.layer_types.assign(static_cast<size_t>(c.layers), LayerAttention::kFull);
  c.validate();
  return c;
}

}  // namespace gqa::cli

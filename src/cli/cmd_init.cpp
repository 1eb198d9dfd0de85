// gqa init: a seeded random-weight checkpoint for any config.
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/human_format.h"
#include "cli/model_source.h"
#include "cli/progress.h"
#include "cli/stop_signal.h"
#include "convert/random_checkpoint.h"
#include "core/byte_size.h"
#include "core/dtype.h"

namespace gqa::cli {
namespace {

struct InitCli {
  std::string out;
  ModelSource source;
  int64_t kv_heads = 0;
  CLI::Option* kv_heads_opt = nullptr;
  std::string dtype = "bf16";
  uint64_t seed = 0;
  std::string max_shard;
  bool force = false;
};

int run_init(const InitCli& o) {
  ModelConfig m = resolve_model(o.source);
  if (o.kv_heads_opt->count()) m = m.regrouped(o.kv_heads);
  convert::InitOptions io;
  io.dtype = parse_dtype(o.dtype);
  io.seed = o.seed;
  io.force = o.force;
  if (!o.max_shard.empty())
    io.max_shard_bytes = static_cast<uint64_t>(parse_byte_size(o.max_shard));
  prepare_output("gqa init", o.out);
  Progress progress("init");
  const uint64_t bytes = convert::write_random_checkpoint(
      m, o.out, io, [&](uint64_t done, uint64_t total) { progress.update(done, total); });
  progress.finish();
  fmt::print(
      "{}: {} ({} layers, {} heads, {} KV heads, head_dim {}), {} parameters, {} in {}, "
      "seed {}\n",
      o.out, m.name, m.layers, m.heads, m.kv_heads, m.head_dim, format_grouped(m.parameter_count()),
      format_bytes(static_cast<int64_t>(bytes)), dtype_name(io.dtype), o.seed);
  return 0;
}

}  // namespace

Command add_init_command(CLI::App& root) {
  auto o = std::make_shared<InitCli>();
  CLI::App* cmd = root.add_subcommand(
      "init", "Create a checkpoint with seeded random weights for any model shape");
  cmd->add_option("out", o->out, "Checkpoint folder to create")->required();
  add_model_source(*cmd, o->source);
  o->kv_heads_opt = cmd->add_option("--kv-heads", o->kv_heads, "KV heads (default: the model's)");
  cmd->add_option("--dtype", o->dtype, "Weight dtype: f32, bf16, f16")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("--max-shard-size", o->max_shard, "Split weights into shards of at most SIZE");
  cmd->add_flag("--force", o->force, "Replace OUT if it exists");
  cmd->footer(R"(
Weights are drawn as Hugging Face initializes a fresh model: normal(0, 0.02) for embeddings and
projections (o_proj and down_proj scaled by 1/sqrt(2 L), as GPT-2), biases normal(0, 0.02),
norm weights 1 (Gemma: 0, since it scales by 1 + w). The same seed gives the same bytes.

Examples:
  gqa init tiny --layers 2 --heads 4 --head-dim 16 --hidden 64 --intermediate 128 --vocab 256
  gqa init llama-1b llama-3.2-1b --dtype bf16 --seed 1
)");
  return {cmd, [o] { return run_init(*o); }};
}

}  // namespace gqa::cli

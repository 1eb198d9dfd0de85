// gqa uptrain: continue training a converted checkpoint for a fraction of its pretraining.
#include <filesystem>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/train_options.h"
#include "train/training_state.h"

namespace gqa::cli {
namespace {

struct UptrainCommand {
  TrainCli train;
  std::string source;
  double alpha = 0.05;
  int64_t tokens = 0;
  CLI::Option* tokens_opt = nullptr;
};

int run_uptrain(const UptrainCommand& o) {
  train::TrainJob job = make_train_job(o.train);
  job.source = o.source;
  const auto source_state = std::filesystem::path(o.source) / train::kStateFile;
  if (std::filesystem::exists(source_state))
    inherit_recipe(o.train, train::load_training_state(source_state).recipe, job.recipe);
  if (o.tokens_opt->count())
    job.tokens = o.tokens;
  else
    job.alpha = o.alpha;
  return run_job_and_report(job, o.train);
}

}  // namespace

Command add_uptrain_command(CLI::App& root) {
  auto o = std::make_shared<UptrainCommand>();
  CLI::App* cmd = root.add_subcommand(
      "uptrain", "Continue training a converted checkpoint for alpha of its pretraining tokens");
  cmd->add_option("src", o->source, "Checkpoint to continue (e.g. the output of gqa convert)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--alpha", o->alpha,
                  "Fraction of SRC's pretraining tokens (training_state.json) to train for")
      ->capture_default_str();
  o->tokens_opt = cmd->add_option("--tokens", o->tokens, "Train this many tokens instead of alpha");
  add_train_options(*cmd, o->train);
  cmd->footer(R"(
The GQA paper's uptraining: the converted model continues with the pretraining recipe for
alpha (default 5%) of the tokens the original saw, read from SRC's training_state.json (gqa
train writes it; gqa convert carries it). The recipe (batch, seq, lr, schedule, decay, clip,
precision) is SRC's recorded one unless a flag says otherwise; the defaults shown above apply
only when SRC has no training_state.json.

The learning-rate schedule restarts: linear warmup over --warmup of the uptraining steps to
--lr, then cosine decay to --min-lr-ratio x --lr at the last uptraining step. AdamW's moments
start from zero. The tokenizer is SRC's.

Example:
  gqa convert kjv-mha kjv-gqa2 --kv-heads 2
  gqa uptrain kjv-gqa2 --alpha 0.05 --data train.txt --heldout heldout.txt --out kjv-gqa2-up
)");
  return {cmd, [o] { return run_uptrain(*o); }};
}

}  // namespace gqa::cli

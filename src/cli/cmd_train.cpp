// gqa train: pretrain a model of any family the runtime runs from scratch on a text corpus
// (libtorch).
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/model_source.h"
#include "cli/train_options.h"
#include "core/error.h"

namespace gqa::cli {
namespace {

struct TrainCommand {
  TrainCli train;
  ModelSource source;
  int64_t kv_heads = 0;
  CLI::Option* kv_heads_opt = nullptr;
  int64_t tokens = 0;
  std::string tokenizer;
  bool tie_embeddings = false;
};

int run_train(const TrainCommand& o) {
  train::TrainJob job = make_train_job(o.train);
  if (!o.train.resume) {
    ModelConfig m = resolve_model(o.source);
    if (o.kv_heads_opt->count()) m = m.regrouped(o.kv_heads);
    if (o.tie_embeddings) m.tie_embeddings = true;
    job.config = m;
  }  // resuming: the checkpoint in OUT.partial says what the model is
  job.tokens = o.tokens;
  // --vocab sizes the tokenizer trained on --data (default 4096); the model takes its size.
  if (o.source.vocab > 0) job.vocab = o.source.vocab;
  if (!o.tokenizer.empty()) job.tokenizer = o.tokenizer;
  return run_job_and_report(job, o.train);
}

}  // namespace

Command add_train_command(CLI::App& root) {
  auto o = std::make_shared<TrainCommand>();
  CLI::App* cmd = root.add_subcommand(
      "train", "Pretrain a model from scratch on a text corpus (libtorch, CPU)");
  add_model_source(*cmd, o->source);
  o->source.vocab_sizes_tokenizer = true;
  o->kv_heads_opt = cmd->add_option("--kv-heads", o->kv_heads, "KV heads (default: the model's)");
  cmd->add_option("--tokens", o->tokens, "Training tokens (rounded up to whole steps)");
  cmd->add_option("--tokenizer", o->tokenizer, "Use this tokenizer.model instead of training one");
  cmd->add_flag("--tie-embeddings", o->tie_embeddings, "Share the embedding and lm_head weights");
  add_train_options(*cmd, o->train);
  cmd->footer(R"(
The model's shape comes from MODEL (a preset, a config.json or a checkpoint folder) or from
--layers/--heads/--head-dim/--hidden/--intermediate; its vocabulary is the tokenizer's. Weights
start as `gqa init` draws them (--seed). A SentencePiece BPE tokenizer of --vocab ids (default
4096; unk 0, BOS 1, EOS 2, byte fallback) is trained on --data unless --tokenizer gives one.

Recipe: AdamW (betas 0.9/0.95, decay on matrices only), linear warmup over --warmup of the
steps, cosine decay to --min-lr-ratio x --lr, global gradient-norm clipping. With --precision
bf16 the matmuls run in bfloat16 under autocast; weights, gradients and optimizer stay f32.

OUT appears only when training ends: config.json, model.safetensors (--dtype), tokenizer.model
and training_state.json, whose tokens_seen is the pretraining budget `gqa uptrain --alpha`
refers to. Meanwhile OUT.partial/ keeps a checkpoint every --save-every steps; after an
interruption, run the same command with --resume.

Example:
  gqa train --layers 6 --heads 8 --head-dim 32 --hidden 256 --intermediate 704 \
      --data train.txt --heldout heldout.txt --tokens 3000000 --out kjv-mha
)");
  return {cmd, [o] { return run_train(*o); }};
}

}  // namespace gqa::cli

#pragma once
// Options `gqa train` and `gqa uptrain` share (the recipe, evaluation, checkpoints, output) and
// the progress display of a training run.
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/progress.h"
#include "train/train_job.h"

namespace gqa::cli {

struct TrainCli {
  std::string out;
  std::string data;
  std::string heldout;
  train::TrainRecipe recipe;
  std::string precision = "bf16";
  std::string dtype = "f32";
  int64_t eval_every = 50;
  int64_t eval_windows = 32;
  int64_t save_every = 200;
  int threads = 2;
  int nproc = 1;           // local data-parallel worker processes
  int64_t stop_after = 0;  // steps before a checkpoint and a stop (0: to the end)
  bool resume = false;
  bool force = false;
  bool quiet = false;
  bool json = false;
  // --batch --seq --lr --min-lr-ratio --warmup --weight-decay --grad-clip --precision, in order
  std::vector<CLI::Option*> recipe_options;
};

// --data, --heldout, --out, the recipe flags, --eval-every, --save-every, --stop-after,
// --dtype, --threads, --nproc, --resume, --force, --quiet, --json.
void add_train_options(CLI::App& cmd, TrainCli& o);

// Every recipe value not given on the command line taken from `from` (uptraining continues its
// source's recipe), betas and eps always.
void inherit_recipe(const TrainCli& o, const train::TrainRecipe& from, train::TrainRecipe& r);

// The job's common fields from the options. Throws Error for bad values.
train::TrainJob make_train_job(const TrainCli& o);

// Prepares the job here (tokenizer, token files), runs it in gqa-trainer (progress on stderr),
// then prints the summary (or training_state.json with --json) on stdout. --nproc N runs N
// gqa-trainer processes on this machine as one data-parallel group. Under a launcher that
// sets the torchrun environment (WORLD_SIZE > 1: train/dist_env.h), rank 0 prepares the job
// and the other ranks wait for it in OUT.partial (a filesystem every rank sees) and join.
int run_job_and_report(const train::TrainJob& job, const TrainCli& o);

}  // namespace gqa::cli

#include "cli/train_options.h"

#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/human_format.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/float_codec.h"
#include "train/corpus.h"
#include "train/dist_env.h"
#include "train/trainer_process.h"

namespace gqa::cli {

void add_train_options(CLI::App& cmd, TrainCli& o) {
  cmd.add_option("--data", o.data, "Training text (UTF-8, one document or verse per line)")
      ->required();
  cmd.add_option("--heldout", o.heldout,
                 "Held-out text for the evaluation loss (default: the last 5% of --data)");
  cmd.add_option("--out", o.out, "Checkpoint folder to create")->required();
  auto& r = o.recipe;
  auto& given = o.recipe_options;
  given.push_back(cmd.add_option("--batch", r.batch, "Sequences per step")->capture_default_str());
  given.push_back(cmd.add_option("--seq", r.seq, "Tokens per sequence")->capture_default_str());
  given.push_back(cmd.add_option("--lr", r.lr, "Peak learning rate")->capture_default_str());
  given.push_back(cmd.add_option("--min-lr-ratio", r.min_lr_ratio,
                                 "Final learning rate as a fraction of the peak")
                      ->capture_default_str());
  given.push_back(
      cmd.add_option("--warmup", r.warmup_fraction, "Warmup as a fraction of the run's steps")
          ->capture_default_str());
  given.push_back(
      cmd.add_option("--weight-decay", r.weight_decay, "AdamW weight decay (matrices only)")
          ->capture_default_str());
  given.push_back(
      cmd.add_option("--grad-clip", r.grad_clip, "Clip the global gradient norm (0: off)")
          ->capture_default_str());
  cmd.add_option("--seed", r.seed, "Seed of the batch order (and of fresh weights)")
      ->capture_default_str();
  given.push_back(cmd.add_option("--precision", o.precision,
                                 "bf16 (autocast matmuls, f32 weights and optimizer) or f32")
                      ->capture_default_str());
  cmd.add_option("--dtype", o.dtype, "Dtype of the saved weights: f32, bf16, f16")
      ->capture_default_str();
  cmd.add_option("--eval-every", o.eval_every, "Held-out loss every N steps (and at the end)")
      ->capture_default_str();
  cmd.add_option("--eval-windows", o.eval_windows, "Held-out windows of --seq tokens to score")
      ->capture_default_str();
  cmd.add_option("--save-every", o.save_every, "Resumable checkpoint every N steps (0: none)")
      ->capture_default_str();
  cmd.add_option("--stop-after", o.stop_after,
                 "Train this many steps, save a checkpoint and stop (continue with --resume)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--threads", o.threads, "CPU threads (of each process with --nproc)")
      ->capture_default_str();
  cmd.add_option("--nproc", o.nproc,
                 "Data-parallel worker processes on this machine (c10d/Gloo); each takes "
                 "--batch / N sequences of every step")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd.add_flag("--resume", o.resume, "Continue the unfinished run in OUT.partial");
  cmd.add_flag("--force", o.force, "Replace OUT (and any unfinished run) if it exists");
  cmd.add_flag("--quiet", o.quiet, "No progress on stderr");
  cmd.add_flag("--json", o.json, "Print the final training state as JSON");
}

void inherit_recipe(const TrainCli& o, const train::TrainRecipe& from, train::TrainRecipe& r) {
  auto keep = [&](size_t i) { return o.recipe_options.at(i)->count() > 0; };
  if (!keep(0)) r.batch = from.batch;
  if (!keep(1)) r.seq = from.seq;
  if (!keep(2)) r.lr = from.lr;
  if (!keep(3)) r.min_lr_ratio = from.min_lr_ratio;
  if (!keep(4)) r.warmup_fraction = from.warmup_fraction;
  if (!keep(5)) r.weight_decay = from.weight_decay;
  if (!keep(6)) r.grad_clip = from.grad_clip;
  if (!keep(7)) r.precision = from.precision;
  r.beta1 = from.beta1;
  r.beta2 = from.beta2;
  r.eps = from.eps;
}

train::TrainJob make_train_job(const TrainCli& o) {
  train::TrainJob job;
  job.out = o.out;
  job.data = o.data;
  if (!o.heldout.empty()) job.heldout = o.heldout;
  job.recipe = o.recipe;
  job.recipe.precision = train::parse_precision(o.precision);
  job.save_dtype = parse_dtype(o.dtype);
  if (!is_float_weight_dtype(job.save_dtype))
    fail(ErrorKind::kInvalidArgument, "--dtype must be f32, bf16 or f16");
  job.loop = {o.eval_every, o.save_every, o.stop_after};
  if (o.nproc > 1 && job.recipe.batch % o.nproc != 0)
    fail(ErrorKind::kInvalidArgument,
         fmt::format("--batch {} is not a multiple of --nproc {}", job.recipe.batch, o.nproc));
  job.eval_windows = o.eval_windows;
  job.threads = o.threads;
  job.resume = o.resume;
  job.force = o.force;
  return job;
}

int run_job_and_report(const train::TrainJob& job, const TrainCli& o) {
  const train::DistEnv env = train::dist_env_from_environment();
  if (env.distributed() && o.nproc > 1)
    fail(ErrorKind::kInvalidArgument,
         "--nproc with WORLD_SIZE set: the launcher already started the processes");
  if (env.distributed() && env.rank != 0) {
    // Rank 0 prepares the job in OUT.partial; this rank runs it once its job.json is new.
    const int rc = train::join_prepared_job(job.out);
    if (rc == 0 && !o.quiet) fmt::print(stderr, "gqa train: rank {} done\n", env.rank);
    return rc;
  }
  Progress progress("train", o.quiet);
  const train::TrainJob prepared =
      train::prepare_job(job, [&](const std::string& s) { progress.note(s); });
  if (const int rc = train::run_trainer(prepared, o.quiet, true, o.nproc); rc != 0) return rc;
  if (!std::filesystem::exists(job.out / train::kStateFile)) {  // --stop-after
    const train::TrainingState s =
        train::load_training_state(train::partial_dir(job.out) / "checkpoint" / train::kStateFile);
    if (o.json) {
      std::cout << train::to_json(s);
      return 0;
    }
    fmt::print("{}: stopped at step {} of {}; continue with --resume\n",
               train::partial_dir(job.out).string(), s.step, s.total_steps);
    return 0;
  }
  const train::TrainingState s = train::load_training_state(job.out / train::kStateFile);
  if (o.json) {
    std::cout << train::to_json(s);
    return 0;
  }
  const double heldout = s.history.empty() ? NAN : s.history.back().heldout_loss;
  fmt::print(
      "{}: {} steps, {} tokens in {:.0f} s ({:.0f} tokens/s), held-out loss {:.4f} (ppl {:.2f})\n",
      job.out.string(), s.step, format_grouped(s.tokens_seen), s.seconds,
      s.seconds > 0 ? static_cast<double>(s.tokens_seen) / s.seconds : 0.0, heldout,
      std::exp(heldout));
  if (s.uptrain)
    fmt::print("uptrained {} for alpha {} of its {} pretraining tokens\n", s.uptrain->source,
               s.uptrain->alpha, format_grouped(s.pretraining_tokens));
  return 0;
}

}  // namespace gqa::cli

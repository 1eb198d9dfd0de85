#include "train/training_run.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/file_output.h"
#include "io/output_folder.h"
#include "io/token_file.h"

namespace gqa::train {
namespace {

namespace fs = std::filesystem;

constexpr const char* kOptimizer = "optimizer.pt";

void save_checkpoint(const TorchLlama& model, torch::optim::AdamW& opt, const TrainingState& state,
                     const fs::path& dir) {
  io::OutputFolder folder(dir, /*force=*/true);
  model.save(folder.tmp(), DType::kF32);
  torch::save(opt, (folder.tmp() / kOptimizer).string());
  io::write_text_file(folder.tmp() / kStateFile, to_json(state));
  folder.commit();
}

// Rank 0's run on every rank: its training state, weights and optimizer state (the other ranks
// built theirs from the same job, but only rank 0's checkpoint counts, and the files need not
// be on a filesystem every rank sees).
void sync_from_rank0(DataParallel& dp, TrainingState& state, const TorchLlama& model,
                     torch::optim::AdamW& opt) {
  state = parse_training_state(dp.broadcast_bytes(dp.rank() == 0 ? to_json(state) : ""),
                               "rank 0's training state");
  std::vector<torch::Tensor> params;
  for (const NamedTensor& p : model.named_parameters()) params.push_back(p.value);
  dp.broadcast(params);
  std::ostringstream saved;
  if (dp.rank() == 0) torch::save(opt, saved);
  std::istringstream loaded(dp.broadcast_bytes(saved.str()));
  if (dp.rank() != 0 && loaded.rdbuf()->in_avail() > 0) torch::load(opt, loaded);
}

}  // namespace

TrainingState run_prepared_job(const TrainJob& job, const JobEvents& events) {
  const DistEnv env = dist_env_from_environment();
  auto status = [&](const std::string& s) {
    if (events.status && env.rank == 0) events.status(s);
  };
  torch::set_num_threads(job.threads);
  // Join the group first, so a rank that cannot is found before any work.
  std::unique_ptr<DataParallel> dp;
  if (env.distributed()) {
    dp = std::make_unique<DataParallel>(env);
    status("data parallel: " + std::to_string(env.world) + " processes, " +
           std::to_string(job.recipe.batch / env.world) + " sequences each per step");
  }
  const fs::path partial = partial_dir(job.out);
  const fs::path checkpoint = partial / "checkpoint";
  const fs::path tokenizer = partial / kTokenizerFile;
  const std::vector<int32_t> train_tokens = io::read_token_file(partial / kTrainTokensFile);
  const std::vector<int32_t> heldout_tokens = io::read_token_file(partial / kHeldoutTokensFile);

  // The model and where the run stands.
  std::optional<TorchLlama> model;
  TrainingState state;
  if (job.resume) {
    state = load_training_state(checkpoint / kStateFile);
    model.emplace(TorchLlama::load(checkpoint));
    status("resuming at step " + std::to_string(state.step) + " of " +
           std::to_string(state.total_steps));
  } else {
    state.recipe = job.recipe;
    state.data = job.data.string();
    int64_t tokens = job.tokens;
    if (job.source) {
      model.emplace(TorchLlama::load(*job.source));
      const fs::path source_state = *job.source / kStateFile;
      if (job.alpha) {
        if (!fs::exists(source_state))
          fail(ErrorKind::kInvalidArgument,
               job.source->string() +
                   " has no training_state.json, so its pretraining budget "
                   "is unknown: give --tokens instead of --alpha");
        state.pretraining_tokens = load_training_state(source_state).pretraining_tokens;
        tokens = static_cast<int64_t>(std::llround(*job.alpha * state.pretraining_tokens));
        state.uptrain = UptrainInfo{job.source->string(), *job.alpha};
      } else {
        if (fs::exists(source_state))
          state.pretraining_tokens = load_training_state(source_state).pretraining_tokens;
        state.uptrain = UptrainInfo{job.source->string(), 0.0};
      }
    } else {
      model.emplace(TorchLlama::initialized(*job.config, job.recipe.seed));
    }
    state.total_steps =
        std::max<int64_t>(1, (tokens + state.tokens_per_step() - 1) / state.tokens_per_step());
  }

  auto opt = make_optimizer(*model, state.recipe);
  if (job.resume) torch::load(*opt, (checkpoint / kOptimizer).string());
  if (dp) {
    sync_from_rank0(*dp, state, *model, *opt);
    if (state.recipe.batch % dp->world() != 0)
      fail(ErrorKind::kInvalidArgument, "the run's batch of " + std::to_string(state.recipe.batch) +
                                            " sequences is not a multiple of the " +
                                            std::to_string(dp->world()) + " processes");
    std::vector<torch::Tensor> params;
    for (const NamedTensor& p : model->named_parameters()) params.push_back(p.value);
    dp->attach(params);
  }
  const BatchSampler sampler(train_tokens, state.recipe.batch, state.recipe.seq, state.recipe.seed);
  const std::vector<Batch> heldout =
      heldout_batches(heldout_tokens, state.recipe.batch, state.recipe.seq, job.eval_windows);

  status("training " + std::to_string(model->parameter_count()) + " parameters for " +
         std::to_string(state.total_steps) + " steps of " +
         std::to_string(state.tokens_per_step()) + " tokens");
  const auto started = std::chrono::steady_clock::now();
  const int64_t first_step = state.step;
  train_loop(
      *model, *opt, sampler, heldout, state, job.loop, events.step,
      [&](const TrainingState& s) { save_checkpoint(*model, *opt, s, checkpoint); }, dp.get());
  if (dp && state.step > first_step) {
    const double steps = static_cast<double>(state.step - first_step);
    const double step_ms =
        1000 * std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() /
        steps;
    const double alone_ms = 1000 * dp->time_allreduce();
    char line[320];
    std::snprintf(line, sizeof line,
                  "data parallel: %.2f MB of gradients all-reduced per step, %.1f ms alone; a step "
                  "of %.1f ms waited %.1f ms for it after the backward pass",
                  static_cast<double>(dp->bytes_per_step()) / 1e6, alone_ms, step_ms,
                  1000 * dp->wait_seconds() / steps);
    status(line);
  }
  if (state.step < state.total_steps) {  // stop_after: the checkpoint is saved, go on later
    status("stopped after step " + std::to_string(state.step) + " of " +
           std::to_string(state.total_steps) + "; the checkpoint is kept (--resume)");
    return state;
  }
  if (env.rank != 0) return state;  // rank 0 writes the output

  state.finished = true;
  if (!job.source) state.pretraining_tokens = state.tokens_seen;
  io::OutputFolder folder(job.out, job.force);
  model->save(folder.tmp(), job.save_dtype);
  io::copy_file(tokenizer, folder.tmp() / kTokenizerFile);
  if (job.source) {
    for (const fs::path& f : io::Checkpoint(*job.source).carried_files()) {
      const auto name = f.filename().string();
      if (name != kTokenizerFile && name != kStateFile) io::copy_file(f, folder.tmp() / name);
    }
  }
  io::write_text_file(folder.tmp() / kStateFile, to_json(state));
  folder.commit();
  fs::remove_all(partial);
  return state;
}

}  // namespace gqa::train

#include "train/training_run.h"

#include <cmath>

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

}  // namespace

TrainingState run_prepared_job(const TrainJob& job, const JobEvents& events) {
  auto status = [&](const std::string& s) {
    if (events.status) events.status(s);
  };
  torch::set_num_threads(job.threads);
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

  const BatchSampler sampler(train_tokens, state.recipe.batch, state.recipe.seq, state.recipe.seed);
  const std::vector<Batch> heldout =
      heldout_batches(heldout_tokens, state.recipe.batch, state.recipe.seq, job.eval_windows);
  auto opt = make_optimizer(*model, state.recipe);
  if (job.resume) torch::load(*opt, (checkpoint / kOptimizer).string());

  status("training " + std::to_string(model->parameter_count()) + " parameters for " +
         std::to_string(state.total_steps) + " steps of " +
         std::to_string(state.tokens_per_step()) + " tokens");
  train_loop(*model, *opt, sampler, heldout, state, job.loop, events.step,
             [&](const TrainingState& s) { save_checkpoint(*model, *opt, s, checkpoint); });

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

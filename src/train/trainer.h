#pragma once
// The training loop shared by `gqa train`, `gqa uptrain` and `gqa reproduce`: AdamW (decay on
// matrices only), the warmup + cosine schedule, global-norm gradient clipping, bf16 autocast or
// f32, held-out loss every few steps.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "train/distributed.h"
#include "train/lr_schedule.h"
#include "train/token_data.h"
#include "train/torch_llama.h"
#include "train/train_job.h"
#include "train/training_state.h"

namespace gqa::train {

// AdamW over the model's parameters with the recipe's betas, eps and weight decay; norms and
// biases (1-D tensors) get no decay.
std::unique_ptr<torch::optim::AdamW> make_optimizer(const TorchLlama& model, const TrainRecipe& r);

// One update at learning rate `lr`: zero grads, loss, backward, clip to grad_clip (if > 0),
// step. Returns the loss before the update. With `dp`, the batch is this rank's slice and the
// gradients are averaged over the ranks before clipping; the loss returned is the ranks' mean.
double train_step(const TorchLlama& model, torch::optim::AdamW& opt, const Batch& batch, double lr,
                  double grad_clip, Precision precision, DataParallel* dp = nullptr);

// Rank `rank`'s rows of a global batch (world must divide its rows).
Batch rank_slice(const Batch& global, int rank, int world);

// Mean cross entropy over the batches, without gradients.
double mean_loss(const TorchLlama& model, const std::vector<Batch>& batches, Precision precision);

LrSchedule schedule_for(const TrainingState& s);

struct StepReport {
  int64_t step = 0;  // steps done
  int64_t total_steps = 0;
  int64_t tokens = 0;
  double loss = 0;
  double lr = 0;
  double tokens_per_s = 0;             // this run (since start or resume)
  std::optional<double> heldout_loss;  // on evaluation steps
};

// Runs steps state.step .. state.total_steps - 1 (or loop.stop_after of them), updating
// `state` (step, tokens, history, seconds). `save` is called every save_every steps, and at a
// stop_after stop, and is how a run becomes resumable. With `dp` every rank runs the loop on
// its slice of each batch; rank 0 alone evaluates, reports and saves.
void train_loop(const TorchLlama& model, torch::optim::AdamW& opt, const BatchSampler& sampler,
                const std::vector<Batch>& heldout, TrainingState& state, const LoopOptions& loop,
                const std::function<void(const StepReport&)>& report,
                const std::function<void(const TrainingState&)>& save, DataParallel* dp = nullptr);

}  // namespace gqa::train

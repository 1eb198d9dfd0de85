#include "train/trainer.h"

#include "core/interrupt.h"

#include <ATen/autocast_mode.h>

#include <chrono>

namespace gqa::train {
namespace {

// bf16 autocast for the duration of a forward (and the backward that follows it).
class AutocastScope {
 public:
  explicit AutocastScope(Precision p) : on_(p == Precision::kBF16) {
    if (!on_) return;
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~AutocastScope() {
    if (!on_) return;
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();  // casts of the weights are stale after an update
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_;
};

}  // namespace

std::unique_ptr<torch::optim::AdamW> make_optimizer(const TorchLlama& model, const TrainRecipe& r) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const NamedTensor& p : model.named_parameters())
    (p.value.dim() >= 2 ? decay : no_decay).push_back(p.value);
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(r.lr).betas({r.beta1, r.beta2}).eps(r.eps).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(r.weight_decay));
  if (!no_decay.empty()) groups.emplace_back(no_decay, options(0.0));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(r.lr));
}

double train_step(const TorchLlama& model, torch::optim::AdamW& opt, const Batch& batch, double lr,
                  double grad_clip, Precision precision, DataParallel* dp) {
  for (auto& group : opt.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  opt.zero_grad();
  torch::Tensor loss;
  if (dp) dp->arm();
  {
    AutocastScope autocast(precision);
    loss = model.loss(batch.ids, batch.targets);
    loss.backward();
  }
  if (dp) dp->finish();  // every rank now holds the mean gradient of the global batch
  if (grad_clip > 0) torch::nn::utils::clip_grad_norm_(model.parameters(), grad_clip);
  opt.step();
  return dp ? dp->mean(loss.item<double>()) : loss.item<double>();
}

Batch rank_slice(const Batch& global, int rank, int world) {
  const int64_t rows = global.ids.size(0) / world;
  return {global.ids.narrow(0, rank * rows, rows), global.targets.narrow(0, rank * rows, rows)};
}

double mean_loss(const TorchLlama& model, const std::vector<Batch>& batches, Precision precision) {
  torch::NoGradGuard no_grad;
  double sum = 0;
  int64_t n = 0;
  for (const Batch& b : batches) {
    AutocastScope autocast(precision);
    sum += model.loss(b.ids, b.targets).item<double>() * static_cast<double>(b.ids.size(0));
    n += b.ids.size(0);
  }
  return sum / static_cast<double>(n);
}

LrSchedule schedule_for(const TrainingState& s) {
  const TrainRecipe& r = s.recipe;
  const auto warmup = static_cast<int64_t>(r.warmup_fraction * static_cast<double>(s.total_steps));
  return {r.lr, r.lr * r.min_lr_ratio, warmup, s.total_steps};
}

void train_loop(const TorchLlama& model, torch::optim::AdamW& opt, const BatchSampler& sampler,
                const std::vector<Batch>& heldout, TrainingState& state, const LoopOptions& loop,
                const std::function<void(const StepReport&)>& report,
                const std::function<void(const TrainingState&)>& save, DataParallel* dp) {
  const bool lead = !dp || dp->rank() == 0;  // evaluates, reports, saves
  const LrSchedule schedule = schedule_for(state);
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  const int64_t first_step = state.step;
  double loss_sum = 0;
  int64_t loss_n = 0;
  while (state.step < state.total_steps) {
    throw_if_interrupted();  // SIGINT/SIGTERM: stop between steps, the last checkpoint kept
    if (loop.stop_after > 0 && state.step - first_step == loop.stop_after) {
      if (lead && save) save(state);
      return;
    }
    const double lr = schedule.at(state.step);
    const Batch& global = sampler.at(state.step);
    const double loss =
        train_step(model, opt, dp ? rank_slice(global, dp->rank(), dp->world()) : global, lr,
                   state.recipe.grad_clip, state.recipe.precision, dp);
    ++state.step;
    state.tokens_seen += state.tokens_per_step();
    loss_sum += loss;
    ++loss_n;
    const auto now = std::chrono::steady_clock::now();
    state.seconds += std::chrono::duration<double>(now - last).count();
    last = now;
    StepReport r{state.step, state.total_steps, state.tokens_seen, loss, lr, 0, std::nullopt};
    r.tokens_per_s = static_cast<double>((state.step - first_step) * state.tokens_per_step()) /
                     std::chrono::duration<double>(now - start).count();
    const bool final_step = state.step == state.total_steps;
    if (!lead) continue;
    if (final_step || (loop.eval_every > 0 && state.step % loop.eval_every == 0)) {
      r.heldout_loss = mean_loss(model, heldout, state.recipe.precision);
      state.history.push_back(
          {state.step, state.tokens_seen, loss_sum / static_cast<double>(loss_n), *r.heldout_loss});
      loss_sum = 0;
      loss_n = 0;
      last = std::chrono::steady_clock::now();  // evaluation is not training time
    }
    if (report) report(r);
    if (save && loop.save_every > 0 && state.step % loop.save_every == 0 && !final_step)
      save(state);
  }
}

}  // namespace gqa::train

#pragma once
// Runs a prepared TrainJob (see train_job.h) in the gqa-trainer process: loads the token files
// from `out`.partial, builds or loads the model, trains with checkpoints, writes `out`.
#include "train/train_job.h"
#include "train/trainer.h"

namespace gqa::train {

struct JobEvents {
  std::function<void(const std::string&)> status;  // one line per stage
  std::function<void(const StepReport&)> step;
};

// Throws Error for bad input (see check_job; a source without a pretraining budget for alpha)
// before `out` is touched. In a data-parallel run (the torchrun environment, train/dist_env.h)
// every rank calls this; rank 0 alone reports, saves checkpoints and writes `out`. A run that
// stops at loop.stop_after returns its state unfinished, the checkpoint saved.
TrainingState run_prepared_job(const TrainJob& job, const JobEvents& events);

}  // namespace gqa::train

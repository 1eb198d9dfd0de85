#pragma once
// Running a prepared training job in gqa-trainer, the libtorch half of gqa that lives next to
// the gqa executable (see train/train_job.h for why training is a second process).
#include "train/train_job.h"

namespace gqa::train {

// Writes the job to `out`.partial/job.json and runs gqa-trainer on it with stderr shared
// (progress). Returns its exit code (130 when SIGINT/SIGTERM stopped it). announce_interrupt:
// the trainer prints its own line on an interrupt (gqa train); false leaves that line to the
// caller (gqa reproduce, whose runs cannot be resumed). Throws Error when gqa-trainer is missing
// (a build without libtorch) or dies from a signal.
int run_trainer(const TrainJob& job, bool quiet, bool announce_interrupt = true);

}  // namespace gqa::train

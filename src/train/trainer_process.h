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
// nproc > 1 starts that many gqa-trainer processes as one data-parallel group on this machine
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT in their
// environment; ranks above 0 quiet). When one fails, the others are stopped (SIGTERM, SIGKILL
// 10 s later) and the first failure's code is returned, after a line naming its rank.
int run_trainer(const TrainJob& job, bool quiet, bool announce_interrupt = true, int nproc = 1);

// A rank above 0 under an outside launcher: waits (up to 30 minutes) for rank 0 to write
// `out`.partial/job.json after this call began, then runs gqa-trainer on it. Its exit code.
int join_prepared_job(const std::filesystem::path& out);

}  // namespace gqa::train

// gqa-trainer: the libtorch half of `gqa train`, `gqa uptrain` and `gqa reproduce`. gqa
// prepares a job (tokenizer, token files) and starts this program on it; people run gqa.
// Exit codes as gqa: 0 success, 2 bad input, 1 an internal failure.
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/blas_kernel.h"
#include "cli/human_format.h"
#include "cli/progress.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/text_file.h"
#include "train/dist_env.h"
#include "train/training_run.h"

int main(int argc, char** argv) {
  try {
    gqa::cpu_features();  // a bad GQA_ISA is a usage error
  } catch (const gqa::Error& e) {
    fmt::print(stderr, "gqa-trainer: error: {}\n", e.what());
    return 2;
  }
  gqa::cli::ensure_fast_blas_kernel(argv);  // libtorch's f32 GEMM is OpenBLAS too
  CLI::App app{"gqa-trainer: runs a training job that `gqa train` or `gqa uptrain` prepared"};
  std::string job_file;
  bool quiet = false;
  app.add_option("--job", job_file, "job.json written by gqa")->required();
  app.add_flag("--quiet", quiet, "No progress on stderr");
  bool silent_interrupt = false;
  app.add_flag("--silent-interrupt", silent_interrupt,
               "On SIGINT/SIGTERM exit 130 without a line (the calling gqa says what was kept)");
  CLI11_PARSE(app, argc, argv);
  std::string who = "gqa train";
  try {
    const gqa::train::DistEnv env = gqa::train::dist_env_from_environment();
    if (env.distributed()) {
      who = fmt::format("gqa train (rank {} of {})", env.rank, env.world);
      if (env.rank != 0) quiet = true;  // rank 0 reports for all
    }
    const gqa::train::TrainJob job =
        gqa::train::job_from_json(gqa::read_text_file(job_file), job_file);
    gqa::cli::Progress progress("train", quiet, gqa::cli::Progress::Unit::kTokens);
    gqa::train::JobEvents events;
    events.status = [&](const std::string& s) { progress.note(s); };
    events.step = [&](const gqa::train::StepReport& r) {
      const int64_t tps = job.recipe.batch * job.recipe.seq;
      progress.update(
          static_cast<uint64_t>(r.tokens), static_cast<uint64_t>(r.total_steps * tps),
          fmt::format("step {}/{}  loss {:.3f}  lr {:.2e}", r.step, r.total_steps, r.loss, r.lr));
      if (r.heldout_loss)
        progress.note(fmt::format("step {:>6}  {:>12} tokens  held-out loss {:.4f}  ppl {:.2f}",
                                  r.step, gqa::cli::format_grouped(r.tokens), *r.heldout_loss,
                                  std::exp(*r.heldout_loss)));
    };
    gqa::interrupt_on_signals();
    gqa::train::run_prepared_job(job, events);
    progress.finish();
    return 0;
  } catch (const gqa::Error& e) {
    if (e.kind() == gqa::ErrorKind::kInterrupted) {
      if (silent_interrupt) return 130;
      fmt::print(stderr,
                 "\n{}: {}; the last checkpoint is kept (run again with --resume), "
                 "unfinished output removed\n",
                 who, e.what());
      return 130;
    }
    fmt::print(stderr, "{}: error: {}\n", who, e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: internal error: {}\n", who, e.what());
    return 1;
  }
}

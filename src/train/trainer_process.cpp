#include "train/trainer_process.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/interrupt.h"
#include "io/file_output.h"

extern char** environ;

namespace gqa::train {
namespace {

namespace fs = std::filesystem;

fs::path trainer_path() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path p = (ec ? fs::path("gqa") : self).parent_path() / "gqa-trainer";
  if (!fs::exists(p))
    fail(ErrorKind::kUnsupported,
         p.string() +
             " not found: this gqa was built without libtorch (install libtorch-dev, "
             "which scripts/install-deps.sh does, and rebuild)");
  return p;
}

}  // namespace

int run_trainer(const TrainJob& job, bool quiet, bool announce_interrupt) {
  const fs::path exe = trainer_path();
  const fs::path job_file = partial_dir(job.out) / "job.json";
  io::write_text_file(job_file, job_to_json(job));
  std::vector<std::string> args{exe.string(), "--job", job_file.string()};
  if (quiet) args.emplace_back("--quiet");
  if (!announce_interrupt) args.emplace_back("--silent-interrupt");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (const int rc = posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ);
      rc != 0)
    fail(ErrorKind::kIo, exe.string() + ": cannot start: " + std::strerror(rc));
  // SIGINT/SIGTERM reach gqa while it waits: they are handed to the trainer, which stops
  // between steps and cleans up; its exit code (130) is gqa's.
  interrupt_on_signals();
  int status = 0;
  bool forwarded = false;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      fail(ErrorKind::kIo, "waiting for gqa-trainer: " + std::string(std::strerror(errno)));
    if (interrupted() && !forwarded) {
      ::kill(pid, SIGTERM);
      forwarded = true;
    }
  }
  if (WIFSIGNALED(status))
    fail(ErrorKind::kIo, "gqa-trainer died from signal " + std::to_string(WTERMSIG(status)) +
                             "; the last checkpoint is kept in " + partial_dir(job.out).string() +
                             " (--resume)");
  return WEXITSTATUS(status);
}

}  // namespace gqa::train

#include "train/trainer_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
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

namespace {

pid_t spawn(const fs::path& exe, const std::vector<std::string>& args,
            const std::vector<std::string>& env) {
  std::vector<char*> argv, envp;
  std::vector<std::string> a = args, e = env;
  for (auto& x : a) argv.push_back(x.data());
  argv.push_back(nullptr);
  for (auto& x : e) envp.push_back(x.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  if (const int rc = posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), envp.data());
      rc != 0)
    fail(ErrorKind::kIo, exe.string() + ": cannot start: " + std::strerror(rc));
  return pid;
}

// This process's environment without the variables in `drop`.
std::vector<std::string> environment_without(const std::vector<std::string>& drop) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (std::find(drop.begin(), drop.end(), key) == drop.end()) out.push_back(kv);
  }
  return out;
}

// A TCP port free on the loopback interface now (the group's store binds it right after).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) ::close(fd);
  if (port == 0) fail(ErrorKind::kIo, "no free TCP port on 127.0.0.1 for the trainer group");
  return port;
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) return "died from signal " + std::to_string(WTERMSIG(status));
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

// Waits for every process; SIGINT/SIGTERM here go to all of them. The first that fails stops
// the rest. Returns the first failure's exit code (1 for a signal), or 0.
int wait_all(const std::vector<pid_t>& pids, const fs::path& partial) {
  // An interrupt that came before the processes started is the caller's to handle (gqa
  // reproduce lets the run finish and then stops); only a new one is passed on.
  const bool interrupted_before = interrupted();
  interrupt_on_signals();
  std::vector<bool> done(pids.size(), false);
  size_t left = pids.size();
  int result = 0;
  bool stopping = false, forwarded = false;
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (left > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno != EINTR) break;
    if (pid <= 0) {
      if (interrupted() && !interrupted_before && !forwarded) {
        for (size_t r = 0; r < pids.size(); ++r)
          if (!done[r]) ::kill(pids[r], SIGTERM);
        forwarded = true;
      }
      if (std::chrono::steady_clock::now() > deadline)
        for (size_t r = 0; r < pids.size(); ++r)
          if (!done[r]) ::kill(pids[r], SIGKILL);  // a hung or stopped worker
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const auto it = std::find(pids.begin(), pids.end(), pid);
    if (it == pids.end()) continue;
    const size_t rank = static_cast<size_t>(it - pids.begin());
    done[rank] = true;
    --left;
    const bool failed = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
    if (failed && !stopping) {
      stopping = true;
      result = WIFSIGNALED(status) ? 1 : WEXITSTATUS(status);
      if (forwarded && pids.size() > 1) {
        result = 130;  // interrupted: the ranks stop as they notice, in any order
      } else if (pids.size() > 1 && result != 130) {
        std::fprintf(stderr, "gqa train: worker rank %zu %s; stopping the other %zu\n", rank,
                     describe(status).c_str(), left);
      } else if (WIFSIGNALED(status)) {
        fail(ErrorKind::kIo, "gqa-trainer died from signal " + std::to_string(WTERMSIG(status)) +
                                 "; the last checkpoint is kept in " + partial.string() +
                                 " (--resume)");
      }
      for (size_t r = 0; r < pids.size(); ++r)
        if (!done[r]) {
          ::kill(pids[r], SIGTERM);
          ::kill(pids[r], SIGCONT);  // a stopped worker gets to act on it
        }
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
  }
  return result;
}

}  // namespace

int run_trainer(const TrainJob& job, bool quiet, bool announce_interrupt, int nproc) {
  const fs::path exe = trainer_path();
  const fs::path job_file = partial_dir(job.out) / "job.json";
  io::write_text_file(job_file, job_to_json(job));
  std::vector<std::string> args{exe.string(), "--job", job_file.string()};
  if (quiet) args.emplace_back("--quiet");
  if (!announce_interrupt) args.emplace_back("--silent-interrupt");
  if (nproc <= 1) {
    std::vector<std::string> env = environment_without({});
    return wait_all({spawn(exe, args, env)}, partial_dir(job.out));
  }
  const std::vector<std::string> keys{"RANK",        "WORLD_SIZE",  "LOCAL_RANK",
                                      "MASTER_ADDR", "MASTER_PORT", "LOCAL_WORLD_SIZE"};
  const int port = free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < nproc; ++r) {
    std::vector<std::string> env = environment_without(keys);
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"RANK", std::to_string(r)},
             {"LOCAL_RANK", std::to_string(r)},
             {"WORLD_SIZE", std::to_string(nproc)},
             {"LOCAL_WORLD_SIZE", std::to_string(nproc)},
             {"MASTER_ADDR", "127.0.0.1"},
             {"MASTER_PORT", std::to_string(port)}})
      env.push_back(k + "=" + v);
    std::vector<std::string> a = args;
    if (r > 0 && std::find(a.begin(), a.end(), "--quiet") == a.end()) a.emplace_back("--quiet");
    pids.push_back(spawn(exe, a, env));
  }
  return wait_all(pids, partial_dir(job.out));
}

int join_prepared_job(const fs::path& out) {
  const fs::path exe = trainer_path();
  const fs::path job_file = partial_dir(out) / "job.json";
  const auto began = fs::file_time_type::clock::now();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(30);
  for (;;) {
    std::error_code ec;
    const auto t = fs::last_write_time(job_file, ec);
    if (!ec && t >= began - std::chrono::seconds(2)) break;
    if (std::chrono::steady_clock::now() > give_up)
      fail(ErrorKind::kIo, "rank 0 did not write " + job_file.string() +
                               " within 30 minutes (OUT must be on a filesystem every rank sees)");
    throw_if_interrupted();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::vector<std::string> args{exe.string(), "--job", job_file.string(), "--quiet"};
  return wait_all({spawn(exe, args, environment_without({}))}, partial_dir(out));
}

}  // namespace gqa::train

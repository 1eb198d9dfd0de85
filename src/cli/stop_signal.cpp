#include "cli/stop_signal.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/interrupt.h"
#include "io/output_folder.h"

namespace gqa::cli {
namespace {

int g_signal_pipe[2] = {-1, -1};

// Any thread may take the signal (OpenBLAS starts threads before main, so masking is not
// enough); the handler only writes the signal number to a pipe.
void on_signal(int sig) {
  const char c = static_cast<char>(sig);
  [[maybe_unused]] const auto n = ::write(g_signal_pipe[1], &c, 1);
}

}  // namespace

void prepare_output(const std::string& who, const std::filesystem::path& dst) {
  interrupt_on_signals();
  for (const auto& p : io::stale_output_folders(dst))
    fmt::print(stderr,
               "{}: note: {} was left by an interrupted run (its process has ended); "
               "remove it\n",
               who, p.string());
}

void listen_until_signal(const std::string& who, const std::function<void()>& listen,
                         const std::function<void()>& stop) {
  if (g_signal_pipe[0] < 0 && ::pipe(g_signal_pipe) != 0)
    fail(ErrorKind::kIo, "cannot create a pipe for signals");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::thread waiter([&] {
    char sig = 0;
    while (::read(g_signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;  // listen() ended by itself
    fmt::print(stderr, "{}: {} received, stopping\n", who, sig == SIGINT ? "SIGINT" : "SIGTERM");
    stop();
  });
  listen();
  const char none = 0;
  [[maybe_unused]] const auto n = ::write(g_signal_pipe[1], &none, 1);  // wake the waiter
  waiter.join();
}

}  // namespace gqa::cli

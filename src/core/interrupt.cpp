#include "core/interrupt.h"

#include <csignal>

#include "core/error.h"

namespace gqa {
namespace {

volatile std::sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  if (g_signal == 0) g_signal = sig;
  // A second Ctrl-C takes the default action: end now. SIGTERM only ever sets the flag, so a
  // parent that passes it on (gqa to gqa-trainer) cannot cut the cleanup short.
  if (sig == SIGINT) std::signal(SIGINT, SIG_DFL);
}

}  // namespace

void interrupt_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() {
  return g_signal != 0;
}

void throw_if_interrupted() {
  if (g_signal != 0)
    fail(ErrorKind::kInterrupted,
         g_signal == SIGINT ? "interrupted (SIGINT)" : "interrupted (SIGTERM)");
}

}  // namespace gqa

#pragma once
// Long-running servers (gqa serve, gqa kv --ui): run until SIGINT or SIGTERM, then stop.
#include <functional>
#include <string>

namespace gqa::cli {

// Calls `listen` (which blocks) and, when SIGINT or SIGTERM arrives, prints "`who`: SIGTERM
// received, stopping" to stderr and calls `stop` from another thread so that `listen` returns.
void listen_until_signal(const std::string& who, const std::function<void()>& listen,
                         const std::function<void()>& stop);

}  // namespace gqa::cli

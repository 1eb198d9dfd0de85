#pragma once
// Long-running servers (gqa serve, gqa kv --ui): run until SIGINT or SIGTERM, then stop.
#include <filesystem>
#include <functional>
#include <string>

namespace gqa::cli {

// Before a command writes a checkpoint folder to `dst`: SIGINT/SIGTERM stop the write and remove
// its unfinished output (core/interrupt.h), and temporary folders that a killed run left next
// to `dst` are named on stderr (prefixed by `who`) so that they can be removed.
void prepare_output(const std::string& who, const std::filesystem::path& dst);

// Calls `listen` (which blocks) and, when SIGINT or SIGTERM arrives, prints "`who`: SIGTERM
// received, stopping" to stderr and calls `stop` from another thread so that `listen` returns.
void listen_until_signal(const std::string& who, const std::function<void()>& listen,
                         const std::function<void()>& stop);

}  // namespace gqa::cli

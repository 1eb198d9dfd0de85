#pragma once
// Options every command that runs a model shares: threads and the KV cache's dtype and blocks.
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "model/session.h"

namespace gqa::cli {

struct RuntimeOptions {
  int threads = 0;  // 0: every core
  std::string kv_dtype;
  int64_t block_size = 16;

  // Sets the thread count and returns the validated cache options. Throws Error.
  model::CacheOptions apply() const;
};

// Adds --threads, --kv-dtype (default `default_kv_dtype`) and --block-size.
void add_runtime_options(CLI::App& cmd, RuntimeOptions& o, const std::string& default_kv_dtype);

}  // namespace gqa::cli

#include "cli/runtime_options.h"

#include "core/error.h"
#include "ops/kv_quant.h"
#include "ops/matmul.h"

namespace gqa::cli {

model::CacheOptions RuntimeOptions::apply() const {
  if (threads < 0) fail(ErrorKind::kInvalidArgument, "--threads must be >= 0");
  ops::set_threads(threads);
  const KvDtype t = parse_kv_dtype(kv_dtype);
  ops::check_cache_dtype(t);
  if (block_size <= 0 || block_size > 4096)
    fail(ErrorKind::kInvalidArgument,
         "--block-size must be between 1 and 4096, got " + std::to_string(block_size));
  return {t, block_size};
}

void add_runtime_options(CLI::App& cmd, RuntimeOptions& o, const std::string& default_kv_dtype) {
  o.kv_dtype = default_kv_dtype;
  cmd.add_option("--threads", o.threads, "Threads (default: all cores)");
  cmd.add_option("--kv-dtype", o.kv_dtype,
                 "KV cache dtype: f32, f16, bf16, fp8 (e4m3), fp8-e5m2, int8")
      ->capture_default_str();
  cmd.add_option("--block-size", o.block_size, "Tokens per KV block")->capture_default_str();
}

}  // namespace gqa::cli

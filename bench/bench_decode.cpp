// Prefill and decode speed of a Llama-3.2-1B-shaped bf16 checkpoint (from gqa init) at depth 0
// and 4096, and decode's achieved read bandwidth (weights + KV per token) as a ratio to a
// STREAM-like read probe measured in the same run (goal >= 0.7).
//
// Usage: bench_decode [--dir DIR] [--threads N] [-p N] [-n N]   (defaults /tmp, 2, 128, 32)
#include <omp.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "cli/blas_kernel.h"
#include "config/presets.h"
#include "convert/random_checkpoint.h"
#include "eval/speed.h"
#include "model/model.h"
#include "ops/matmul.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  gqa::cli::ensure_fast_blas_kernel(argv);  // as gqa does; GQA_KEEP_BLAS_KERNEL=1 to compare
  fs::path dir = fs::temp_directory_path();
  int threads = 2;
  int64_t p = 128, n = 32;
  gqa::KvDtype kv_dtype = gqa::KvDtype::kF16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dir")
      dir = argv[i + 1];
    else if (a == "--threads")
      threads = std::stoi(argv[i + 1]);
    else if (a == "-p")
      p = std::stoll(argv[i + 1]);
    else if (a == "-n")
      n = std::stoll(argv[i + 1]);
    else if (a == "--kv-dtype")
      kv_dtype = gqa::parse_kv_dtype(argv[i + 1]);
  }
  gqa::ops::set_threads(threads);
  const fs::path ckpt = dir / fmt::format("gqa_bench_decode_{}", ::getpid());
  try {
    gqa::convert::InitOptions io;
    io.dtype = gqa::DType::kBF16;
    gqa::convert::write_random_checkpoint(gqa::find_preset("llama-3.2-1b")->config, ckpt, io);
    const gqa::model::Model m(ckpt);
    const gqa::model::CacheOptions cache{kv_dtype, 16};
    const double probe = gqa::eval::read_bandwidth(int64_t{1} << 30);
    fmt::print("Llama-3.2-1B-shaped bf16 (random weights), KV {}, {} threads; probe {:.2f} GB/s\n",
               gqa::kv_dtype_name(kv_dtype), omp_get_max_threads(), probe / 1e9);
    fmt::print("{:<8} {:>6} {:>10} {:>12} {:>10}\n", "test", "depth", "tokens/s", "GB/s read",
               "vs probe");
    for (int64_t depth : {0, 4096}) {
      const auto pp = gqa::eval::measure_prefill(m, cache, depth, p, 1);
      fmt::print("{:<8} {:>6} {:>10.2f}\n", pp.test, depth, pp.tokens_per_s);
      const auto tg = gqa::eval::measure_decode(m, cache, depth, n, 2);
      const double bw = tg.bytes_per_token * tg.tokens_per_s;
      fmt::print("{:<8} {:>6} {:>10.2f} {:>12.2f} {:>10.2f}\n", tg.test, depth, tg.tokens_per_s,
                 bw / 1e9, bw / probe);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_decode: {}\n", e.what());
    fs::remove_all(ckpt);
    return 1;
  }
  fs::remove_all(ckpt);
  return 0;
}

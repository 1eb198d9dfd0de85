// Conversion throughput and memory, measured in one run:
//   1. writes an MHA bf16 checkpoint of >= 2 GiB (gqa init),
//   2. copies its weights file (read + write + fsync, 4 MiB buffers): the I/O baseline,
//   3. converts it to fewer KV heads with mean pooling, in a child process whose peak RSS the
//      kernel reports (wait4),
// and prints the conversion throughput as a ratio to the copy (goal >= 0.5) and the peak RSS
// against 2 x the largest tensor + 64 MiB.
//
// Usage: bench_convert [--dir DIR] [--layers N] [--kv-heads G]   (default /tmp, 20, 4)
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "config/model_config.h"
#include "config/tensor_names.h"
#include "convert/converter.h"
#include "convert/random_checkpoint.h"
#include "core/error.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// read + write + fsync with 4 MiB buffers: what any tool must at least do to rewrite the bytes.
double copy_file_timed(const fs::path& from, const fs::path& to) {
  const auto start = Clock::now();
  const int in = ::open(from.c_str(), O_RDONLY);
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || out < 0) throw std::runtime_error("cannot open files for the copy baseline");
  std::vector<char> buf(4 << 20);
  for (;;) {
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) throw std::runtime_error("read failed");
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(out, buf.data() + done, static_cast<size_t>(n - done));
      if (w <= 0) throw std::runtime_error("write failed");
      done += w;
    }
  }
  ::fsync(out);
  ::close(in);
  ::close(out);
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = fs::temp_directory_path();
  int64_t layers = 20, kv_heads = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dir")
      dir = argv[i + 1];
    else if (a == "--layers")
      layers = std::stoll(argv[i + 1]);
    else if (a == "--kv-heads")
      kv_heads = std::stoll(argv[i + 1]);
  }
  // Llama-2-style MHA: 16 heads of 128, hidden 2048; 20 layers give 1.16 B parameters (2.2 GiB).
  gqa::ModelConfig m;
  m.name = "bench-mha";
  m.layers = layers;
  m.heads = 16;
  m.kv_heads = 16;
  m.head_dim = 128;
  m.hidden = 2048;
  m.intermediate = 5632;
  m.vocab = 32000;
  m.max_positions = 4096;
  m.layer_types.assign(static_cast<size_t>(layers), gqa::LayerAttention::kFull);
  int64_t largest = 0;
  for (const auto& t : gqa::expected_tensors(m)) {
    int64_t n = 2;
    for (int64_t d : t.shape) n *= d;
    largest = std::max(largest, n);
  }

  const fs::path work = dir / fmt::format("gqa_bench_convert_{}", ::getpid());
  fs::remove_all(work);
  fs::create_directories(work);
  try {
    gqa::convert::InitOptions io;
    io.dtype = gqa::DType::kBF16;
    auto t0 = Clock::now();
    const uint64_t bytes = gqa::convert::write_random_checkpoint(m, work / "src", io);
    fmt::print("checkpoint: {} layers, 16 heads of 128, bf16, {:.2f} GiB (init {:.1f} s)\n", layers,
               static_cast<double>(bytes) / (1 << 30), seconds_since(t0));

    // Copy and conversion alternate, three rounds each; the fastest of each is compared, so that
    // neither page-cache warmth nor the writeback of earlier files favours one side.
    double copy_s = 1e30, convert_s = 1e30;
    long max_rss_kib = 0;
    for (int round = 0; round < 3; ++round) {
      const double c = copy_file_timed(work / "src" / "model.safetensors", work / "copy.bin");
      fs::remove(work / "copy.bin");
      t0 = Clock::now();
      const pid_t pid = ::fork();
      if (pid == 0) {
        gqa::convert::ConvertOptions o;
        o.kv_heads = kv_heads;
        try {
          gqa::convert::convert_checkpoint(work / "src", work / "dst", o);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "convert failed: %s\n", e.what());
          _exit(1);
        }
        _exit(0);
      }
      int status = 0;
      struct rusage ru {};
      ::wait4(pid, &status, 0, &ru);
      const double v = seconds_since(t0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("convert failed");
      fs::remove_all(work / "dst");
      fmt::print("round {}: copy {:.2f} s, convert {:.2f} s\n", round + 1, c, v);
      copy_s = std::min(copy_s, c);
      convert_s = std::min(convert_s, v);
      max_rss_kib = std::max(max_rss_kib, ru.ru_maxrss);
    }
    const double gib = static_cast<double>(bytes) / (1 << 30);
    const double rss_mib = static_cast<double>(max_rss_kib) / 1024.0;  // ru_maxrss is KiB
    const double rss_goal = 2.0 * static_cast<double>(largest) / (1 << 20) + 64.0;
    fmt::print("copy baseline    {:6.2f} s  {:6.2f} GiB/s\n", copy_s, gib / copy_s);
    fmt::print("convert 16 -> {:<2} {:6.2f} s  {:6.2f} GiB/s  (source bytes)\n", kv_heads,
               convert_s, gib / convert_s);
    fmt::print("throughput ratio convert/copy: {:.2f}  (goal >= 0.5)\n", copy_s / convert_s);
    fmt::print(
        "peak RSS of the conversion: {:.0f} MiB; largest tensor {:.0f} MiB; goal <= {:.0f} MiB\n",
        rss_mib, static_cast<double>(largest) / (1 << 20), rss_goal);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_convert: {}\n", e.what());
    fs::remove_all(work);
    return 1;
  }
  fs::remove_all(work);
  return 0;
}

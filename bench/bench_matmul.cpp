// The dense products of a bf16 decoder, path against path, on the projection shapes of the
// 0.85 B model of the llama.cpp side-by-side runs (hidden 2048, 8 KV heads of 64, FFN 5632):
//   decode (n = 1): GB/s of weights streamed, bf16 dot products (AVX512-BF16, inputs rounded to
//     bf16) against the widened path (bf16 -> f32, f32 FMA), next to a STREAM-like read probe;
//   batched decode (n = 16, 64; the server's steps): GFLOP/s of the row-wise kernels (each row
//     equal to matvec bit for bit) and of oneDNN;
//   prefill (n = 512): GFLOP/s of oneDNN's bf16 matmul against sgemm on widened tiles.
// Rounds alternate the paths; the medians and their ratios are printed. Weights live in 512 MiB
// of huge pages cycled through matrix by matrix, so decode reads memory, not the L3.
//
// Usage: bench_matmul [--threads N] [--rounds R]   (defaults 2, 5)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/blas_kernel.h"
#include "core/cpu_features.h"
#include "core/half.h"
#include "core/huge_buffer.h"
#include "eval/speed.h"
#include "ops/matmul.h"
#include "ops/matmul_onednn.h"

namespace {

using Clock = std::chrono::steady_clock;
using Product = std::function<void(const gqa::ops::Matrix&, const float*, int64_t, float*)>;

constexpr int64_t kPoolBytes = int64_t{512} << 20;

struct Shape {
  const char* name;
  int64_t rows, cols;
};
constexpr Shape kShapes[] = {{"q_proj/o_proj", 2048, 2048},
                             {"k_proj/v_proj", 512, 2048},
                             {"gate/up", 5632, 2048},
                             {"down", 2048, 5632}};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Seconds per product, over at least 0.2 s of products, each on the next matrix of the pool.
double seconds_per_call(const Product& f, const std::byte* pool, Shape s, int64_t n,
                        const std::vector<float>& x, std::vector<float>& y) {
  const int64_t bytes = s.rows * s.cols * 2, matrices = std::max<int64_t>(1, kPoolBytes / bytes);
  int64_t calls = 0, i = 0;
  const auto t0 = Clock::now();
  double dt = 0;
  do {
    const gqa::ops::Matrix w{pool + (i++ % matrices) * bytes, gqa::DType::kBF16, s.rows, s.cols};
    f(w, x.data(), n, y.data());
    ++calls;
    dt = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (dt < 0.2);
  return dt / static_cast<double>(calls);
}

struct Case {
  std::string label;
  int64_t n;
  std::vector<std::pair<std::string, Product>> paths;  // the first is the new one
};

}  // namespace

int main(int argc, char** argv) {
  gqa::cli::ensure_fast_blas_kernel(argv);
  int threads = 2, rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::stoi(argv[i + 1]);
    if (a == "--rounds") rounds = std::stoi(argv[i + 1]);
  }
  gqa::ops::set_threads(threads);
  if (!gqa::cpu_features().avx512bf16 || !gqa::ops::have_matmul_onednn_bf16()) {
    fmt::print(stderr, "bench_matmul: this CPU (or GQA_ISA) has no AVX512-BF16 path to compare\n");
    return 1;
  }
  gqa::HugeBuffer pool = gqa::allocate_huge_buffer(kPoolBytes, "weights");
  {
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 0.02f);
    auto* h = reinterpret_cast<uint16_t*>(pool.get());
    for (int64_t i = 0; i < kPoolBytes / 2; ++i) h[i] = gqa::f32_to_bf16(d(rng));
  }
  const Product bf16_rows = gqa::ops::matmul_rowwise,
                widened_rows = gqa::ops::matmul_rowwise_widened;
  const Product onednn = gqa::ops::matmul, sgemm = gqa::ops::matmul_widened;
  const std::vector<Case> cases = {
      {"decode n=1", 1, {{"bf16 dot", bf16_rows}, {"widened", widened_rows}}},
      {"batch n=16",
       16,
       {{"bf16 rows", bf16_rows}, {"widened rows", widened_rows}, {"oneDNN", onednn}}},
      {"batch n=64",
       64,
       {{"bf16 rows", bf16_rows}, {"widened rows", widened_rows}, {"oneDNN", onednn}}},
      {"prefill n=512", 512, {{"oneDNN", onednn}, {"sgemm widened", sgemm}}}};
  const gqa::eval::ReadProbe probe(int64_t{1} << 30);
  fmt::print("bf16 weights, {} threads, {} rounds (medians; GB/s for n=1, GFLOP/s otherwise)\n",
             omp_get_max_threads(), rounds);
  std::vector<double> probes;
  for (const Shape& s : kShapes) {
    fmt::print("\n{} [{} x {}]\n", s.name, s.rows, s.cols);
    for (const Case& c : cases) {
      std::mt19937 rng(2);
      std::normal_distribution<float> d(0.0f, 1.0f);
      std::vector<float> x(static_cast<size_t>(c.n * s.cols)), y(static_cast<size_t>(c.n * s.rows));
      for (float& v : x) v = d(rng);
      std::vector<std::vector<double>> rate(c.paths.size());
      for (int r = 0; r < rounds; ++r) {
        if (c.n == 1) probes.push_back(probe.measure());
        for (size_t k = 0; k < c.paths.size(); ++k) {
          const size_t p = (k + static_cast<size_t>(r)) % c.paths.size();  // alternate the order
          const double t = seconds_per_call(c.paths[p].second, pool.get(), s, c.n, x, y);
          rate[p].push_back(c.n == 1 ? static_cast<double>(s.rows * s.cols * 2) / t / 1e9
                                     : 2.0 * static_cast<double>(c.n * s.rows * s.cols) / t / 1e9);
        }
      }
      std::string line = fmt::format("  {:<14}", c.label);
      const double first = median(rate[0]);
      for (size_t p = 0; p < c.paths.size(); ++p) {
        const double m = median(rate[p]);
        line += fmt::format("  {} {:7.1f}", c.paths[p].first, m);
        if (p > 0) line += fmt::format(" ({:.2f}x)", first / m);
      }
      fmt::print("{}\n", line);
    }
  }
  fmt::print("\nread probe (1 GiB, huge pages): {:.1f} GB/s median\n", median(probes) / 1e9);
  return 0;
}

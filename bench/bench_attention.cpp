// Decode attention over the paged cache: one step for 32 query heads of head_dim 128 over 32
// (MHA), 8, 4 and 1 (MQA) KV heads, contexts 1k to 32k, KV in f16, bf16, fp8 and int8.
// Prints the time per step, the effective read bandwidth (the KV bytes a step must read / time),
// its ratio to a STREAM-like read probe measured in this run (goal >= 0.8 once the KV is larger
// than the last-level cache) and the time ratio MHA / GQA (goal within 15% of H / h_kv).
//
// Usage: bench_attention [--threads N] [--max-ctx N]   (defaults 2, 32768)
#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "eval/speed.h"
#include "kv/block_pool.h"
#include "ops/kv_quant.h"
#include "ops/matmul.h"
#include "ops/paged_attention.h"

using Clock = std::chrono::steady_clock;
using gqa::KvDtype;

namespace {

constexpr int64_t kHeads = 32, kHeadDim = 128;

// Median seconds of one decode step over enough repetitions to fill ~0.3 s.
double time_step(const gqa::ops::AttentionShape& s, const gqa::ops::PagedKv& kv,
                 const std::vector<float>& q, std::vector<float>& out, int64_t ctx) {
  std::vector<double> times;
  double total = 0;
  while ((times.size() < 5 || total < 0.3) && times.size() < 200) {
    const auto t0 = Clock::now();
    gqa::ops::paged_attention(s, kv, q.data(), 1, ctx - 1, out.data());
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    times.push_back(dt);
    total += dt;
  }
  std::nth_element(times.begin(), times.begin() + static_cast<long>(times.size() / 2), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  int64_t max_ctx = 32768;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads")
      threads = std::stoi(argv[i + 1]);
    else if (a == "--max-ctx")
      max_ctx = std::stoll(argv[i + 1]);
  }
  gqa::ops::set_threads(threads);
  const double probe = gqa::eval::read_bandwidth(int64_t{1} << 30);
  fmt::print(
      "decode attention, {} query heads, head_dim {}, {} threads, SIMD {}; read probe {:.2f} "
      "GB/s\n",
      kHeads, kHeadDim, threads, gqa::ops::vec_ops().name, probe / 1e9);
  fmt::print("{:<9} {:>6} {:>8} {:>10} {:>10} {:>8} {:>9} {:>9}\n", "kv dtype", "ctx", "kv heads",
             "KV MiB", "us/step", "GB/s", "vs probe", "MHA/this");
  std::mt19937_64 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> q(static_cast<size_t>(kHeads * kHeadDim)), out(q.size());
  for (auto& v : q) v = nd(rng);
  for (KvDtype t : {KvDtype::kF16, KvDtype::kBF16, KvDtype::kF8E4M3, KvDtype::kInt8}) {
    std::map<int64_t, double> mha_time;  // ctx -> seconds
    for (int64_t g : {32, 8, 4, 1}) {
      gqa::ModelConfig m;
      m.layers = 1;
      m.heads = kHeads;
      m.kv_heads = g;
      m.head_dim = kHeadDim;
      const auto layout = gqa::kv::KvLayout::for_model(m, t, 16);
      gqa::kv::BlockPool pool(layout, gqa::kv::BlockPool::blocks_for_tokens(layout, max_ctx));
      gqa::kv::SequenceKv seq(pool);
      seq.reserve(max_ctx);
      // Fill with copies of 256 encoded random vectors (encoding every value would dominate).
      const size_t vb = layout.vector_bytes();
      std::vector<std::byte> samples(256 * vb);
      std::vector<float> x(kHeadDim);
      for (int i = 0; i < 256; ++i) {
        for (auto& v : x) v = nd(rng);
        gqa::ops::encode_kv_vector(t, x.data(), kHeadDim, samples.data() + i * vb);
      }
      for (int64_t h = 0; h < g; ++h)
        for (int64_t p = 0; p < max_ctx; ++p) {
          std::memcpy(seq.k_vector(0, h, p), samples.data() + (rng() % 256) * vb, vb);
          std::memcpy(seq.v_vector(0, h, p), samples.data() + (rng() % 256) * vb, vb);
        }
      for (int64_t ctx = 1024; ctx <= max_ctx; ctx *= 2) {
        if (ctx != 1024 && ctx != 4096 && ctx != 16384 && ctx != 32768 && ctx != max_ctx) continue;
        const gqa::ops::AttentionShape s{kHeads, g, kHeadDim, 0};
        const double sec = time_step(s, seq.view(0, ctx), q, out, ctx);
        const double bytes = 2.0 * static_cast<double>(g * ctx) * static_cast<double>(vb);
        if (g == 32) mha_time[ctx] = sec;
        fmt::print(
            "{:<9} {:>6} {:>8} {:>10.1f} {:>10.1f} {:>8.2f} {:>9.2f} {:>9}\n",
            gqa::kv_dtype_name(t), ctx, g, bytes / (1 << 20), sec * 1e6, bytes / sec / 1e9,
            bytes / sec / probe,
            g == 32 ? std::string("-") : fmt::format("{:.2f} ({})", mha_time[ctx] / sec, 32 / g));
      }
    }
  }
  return 0;
}

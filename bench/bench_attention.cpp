// Decode attention over the paged cache: one step for 32 query heads of head_dim 128 over 32
// (MHA), 8, 4 and 1 (MQA) KV heads, contexts 1k to 32k, KV in f16, bf16, fp8 and int8.
// Prints the time per step, the effective read bandwidth (the KV bytes a step must read / time),
// its ratio to a STREAM-like read probe measured in this run (goal >= 0.8 once the KV is larger
// than the last-level cache) and the time ratio MHA / GQA (goal within 15% of H / h_kv).
// The arithmetic floor is the time the step's vector multiply-adds alone take at the rate an
// FMA probe measures in the same rounds: 16-lane f32 FMAs for each key and value element of
// every query head (H * ctx * head_dim / 16 each for K and V), int8 keys a quarter of that
// (VNNI: four products per lane). Fewer KV heads shrink the bytes, not this floor, so once a
// grouping's time approaches it, MHA / GQA stops following H / h_kv.
//
// Each configuration models a model of as many layers as make its KV at the largest context
// 1 GiB, and each timed step is one layer's attention over the next layer's KV, as in a real
// decode step (timing one layer over and over would time the cache once a layer fits in it).
// A shared VM's memory bandwidth drifts by tens of percent within seconds, so the four
// groupings of a context are timed in alternating rounds with a probe pass in each round, and
// each figure is a median over the rounds.
//
// Usage: bench_attention [--threads N] [--max-ctx N] [--kv-dtype f16|bf16|fp8-e4m3|int8]
//        (defaults 2, 32768, all four)
constexpr const char* kUsage =
    "usage: bench_attention [--threads N] [--max-ctx N] [--kv-dtype f16|bf16|fp8-e4m3|int8]\n"
    "  decode attention over the paged cache, 32 query heads x 128 over 32, 8, 4, 1 KV heads;\n"
    "  defaults: 2 threads, contexts 1k to 32768, all four dtypes\n";
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/kv_dtype.h"
#include "eval/speed.h"
#include "kv/block_pool.h"
#include "ops/kv_quant.h"
#include "ops/matmul.h"
#include "ops/paged_attention.h"

using Clock = std::chrono::steady_clock;
using gqa::KvDtype;

namespace {

constexpr int64_t kHeads = 32, kHeadDim = 128;
constexpr double kModelKvBytes = 1 << 30;
constexpr int kRounds = 7;

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// A model's KV cache for one grouping, all layers filled with `max_ctx` tokens.
struct Cache {
  int64_t kv_heads = 0, layers = 0;
  size_t vector_bytes = 0;
  std::unique_ptr<gqa::kv::BlockPool> pool;
  std::unique_ptr<gqa::kv::SequenceKv> seq;
  gqa::ops::AttentionScratch scratch;
  int64_t next_layer = 0;

  Cache(KvDtype t, int64_t g, int64_t max_ctx, std::mt19937_64& rng) : kv_heads(g) {
    gqa::ModelConfig m;
    m.heads = kHeads;
    m.kv_heads = g;
    m.head_dim = kHeadDim;
    m.layers = 1;
    const double layer_bytes =
        static_cast<double>(gqa::kv::KvLayout::for_model(m, t, 16).block_bytes()) *
        static_cast<double>(max_ctx / 16);
    m.layers = layers = static_cast<int64_t>(std::ceil(kModelKvBytes / layer_bytes));
    const auto layout = gqa::kv::KvLayout::for_model(m, t, 16);
    vector_bytes = layout.vector_bytes();
    pool = std::make_unique<gqa::kv::BlockPool>(
        layout, gqa::kv::BlockPool::blocks_for_tokens(layout, max_ctx));
    seq = std::make_unique<gqa::kv::SequenceKv>(*pool);
    seq->reserve(max_ctx);
    // Copies of 64 encoded random K and V runs (encoding every value would dominate the
    // program's time).
    const size_t run = layout.run_bytes();
    std::vector<std::byte> k_runs(64 * run), v_runs(64 * run);
    std::normal_distribution<float> nd;
    std::vector<float> x(kHeadDim);
    for (size_t i = 0; i < 64; ++i)
      for (int64_t slot = 0; slot < layout.block_size; ++slot) {
        for (auto& v : x) v = nd(rng);
        gqa::ops::encode_k_slot(t, x.data(), kHeadDim, layout.block_size, slot,
                                k_runs.data() + i * run);
        for (auto& v : x) v = nd(rng);
        gqa::ops::encode_kv_vector(
            t, x.data(), kHeadDim,
            v_runs.data() + i * run + static_cast<size_t>(slot) * vector_bytes);
      }
    for (int64_t l = 0; l < layers; ++l)
      for (int64_t h = 0; h < g; ++h)
        for (int64_t b = 0; b < max_ctx / layout.block_size; ++b) {
          std::byte* block = pool->block(seq->block_ids(l)[static_cast<size_t>(b)]);
          std::memcpy(block + layout.k_offset(l, h), k_runs.data() + (rng() % 64) * run, run);
          std::memcpy(block + layout.v_offset(l, h), v_runs.data() + (rng() % 64) * run, run);
        }
  }

  // Seconds of each of at least 3 steps filling at least 40 ms, each on the next layer.
  void time_steps(const std::vector<float>& q, std::vector<float>& out, int64_t ctx,
                  std::vector<double>& times) {
    const gqa::ops::AttentionShape s{kHeads, kv_heads, kHeadDim, 0};
    double total = 0;
    for (int i = 0; i < 3 || total < 0.04; ++i) {
      const gqa::ops::PagedKv kv = seq->view(next_layer, ctx);
      next_layer = (next_layer + 1) % layers;
      const auto t0 = Clock::now();
      gqa::ops::paged_attention(s, kv, q.data(), 1, ctx - 1, out.data(), scratch);
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      times.push_back(dt);
      total += dt;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  int64_t max_ctx = 32768;
  constexpr KvDtype kDtypes[] = {KvDtype::kF16, KvDtype::kBF16, KvDtype::kF8E4M3, KvDtype::kInt8};
  std::optional<KvDtype> only_dtype;  // none: all four
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    }
    if (i + 1 >= argc || (a != "--threads" && a != "--max-ctx" && a != "--kv-dtype")) {
      fmt::print(stderr, "bench_attention: bad argument '{}'\n{}", a, kUsage);
      return 2;
    }
    try {
      if (a == "--threads")
        threads = std::stoi(argv[i + 1]);
      else if (a == "--max-ctx")
        max_ctx = std::stoll(argv[i + 1]);
      else
        only_dtype = gqa::parse_kv_dtype(argv[i + 1]);
    } catch (const gqa::Error& e) {
      fmt::print(stderr, "bench_attention: {}\n", e.what());
      return 2;
    } catch (const std::exception&) {
      fmt::print(stderr, "bench_attention: {} wants a number, not '{}'\n", a, argv[i + 1]);
      return 2;
    }
  }
  if (threads < 1 || max_ctx < 1024) {
    fmt::print(stderr, "bench_attention: --threads must be >= 1 and --max-ctx >= 1024\n");
    return 2;
  }
  if (only_dtype &&
      std::find(std::begin(kDtypes), std::end(kDtypes), *only_dtype) == std::end(kDtypes)) {
    fmt::print(stderr, "bench_attention: --kv-dtype is one of f16, bf16, fp8-e4m3, int8\n");
    return 2;
  }
  gqa::ops::set_threads(threads);
  const gqa::eval::ReadProbe probe(int64_t{1} << 30);
  fmt::print(
      "decode attention of one layer, {} query heads, head_dim {}, {} threads, SIMD {}; each "
      "step reads the next of enough layers to hold {:.0f} MiB of KV; read and FMA probes "
      "measured in each of {} rounds per context\n",
      kHeads, kHeadDim, threads, gqa::ops::vec_ops().name, kModelKvBytes / (1 << 20), kRounds);
  fmt::print("{:<9} {:>6} {:>8} {:>10} {:>10} {:>8} {:>8} {:>9} {:>9} {:>10}\n", "kv dtype", "ctx",
             "kv heads", "layer MiB", "us/step", "GB/s", "probe", "vs probe", "MHA/this",
             "fma floor");
  std::mt19937_64 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> q(static_cast<size_t>(kHeads * kHeadDim)), out(q.size());
  for (auto& v : q) v = nd(rng);
  for (KvDtype t : kDtypes) {
    if (only_dtype && *only_dtype != t) continue;
    std::vector<Cache> caches;
    for (int64_t g : {32, 8, 4, 1}) caches.emplace_back(t, g, max_ctx, rng);
    for (int64_t ctx = 1024; ctx <= max_ctx; ctx *= 2) {
      if (ctx != 1024 && ctx != 4096 && ctx != 16384 && ctx != 32768 && ctx != max_ctx) continue;
      std::vector<std::vector<double>> times(caches.size());
      std::vector<double> probes, fma_rates;
      for (int round = 0; round < kRounds; ++round) {
        probes.push_back(probe.measure());
        fma_rates.push_back(gqa::eval::vector_fma_rate());
        for (size_t c = 0; c < caches.size(); ++c) caches[c].time_steps(q, out, ctx, times[c]);
      }
      const double bw = median(probes), fma_rate = median(fma_rates);
      const double elements = static_cast<double>(kHeads * ctx * kHeadDim);
      const double fmas = elements / 16 * (t == KvDtype::kInt8 ? 1.25 : 2.0);
      const double mha = median(times[0]);
      for (size_t c = 0; c < caches.size(); ++c) {
        const double sec = median(times[c]);
        const int64_t g = caches[c].kv_heads;
        const double bytes =
            2.0 * static_cast<double>(g * ctx) * static_cast<double>(caches[c].vector_bytes);
        fmt::print(
            "{:<9} {:>6} {:>8} {:>10.1f} {:>10.1f} {:>8.2f} {:>8.2f} {:>9.2f} {:>9} {:>10}\n",
            gqa::kv_dtype_name(t), ctx, g, bytes / (1 << 20), sec * 1e6, bytes / sec / 1e9,
            bw / 1e9, bytes / sec / bw,
            g == kHeads ? std::string("-") : fmt::format("{:.2f} ({})", mha / sec, kHeads / g),
            fma_rate > 0 ? fmt::format("{:.0f} us", fmas / fma_rate * 1e6) : std::string("-"));
      }
    }
  }
  return 0;
}

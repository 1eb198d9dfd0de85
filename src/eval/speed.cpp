#include "eval/speed.h"

#include <omp.h>

#include "core/cpu_features.h"
#if GQA_X86
#include <immintrin.h>
#endif

#include <chrono>
#include <vector>

#include "core/random.h"
#include "model/session.h"

namespace gqa::eval {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, Rng& rng) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& v : t) v = static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(vocab));
  return t;
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

SpeedRow measure_prefill(const model::Model& m, const model::CacheOptions& cache, int64_t depth,
                         int64_t n, uint64_t seed) {
  Rng rng(seed);
  model::Session s(m, depth + n, cache);
  s.fill_with_noise(depth, seed);
  const auto tokens = random_tokens(n, m.config().vocab, rng);
  std::vector<float> logits;
  {
    model::Session warm(m, 2, cache);  // thread pools and first touch of the weights, untimed
    warm.forward(std::span(tokens.data(), 1), logits);
  }
  const auto t0 = Clock::now();
  s.forward(tokens, logits);
  SpeedRow r{"pp" + std::to_string(n), depth, n, since(t0), 0, 0};
  r.tokens_per_s = static_cast<double>(n) / r.seconds;
  return r;
}

SpeedRow measure_decode(const model::Model& m, const model::CacheOptions& cache, int64_t depth,
                        int64_t n, uint64_t seed) {
  Rng rng(seed);
  model::Session s(m, depth + n + 1, cache);
  s.fill_with_noise(depth, seed);
  const auto tokens = random_tokens(n + 1, m.config().vocab, rng);
  std::vector<float> logits;
  s.forward(std::span(tokens.data(), 1), logits);  // warm-up: first touch of the weights
  double bytes = 0;
  const auto t0 = Clock::now();
  for (int64_t i = 1; i <= n; ++i) {
    bytes += static_cast<double>(m.weight_bytes_per_token() + s.kv_bytes_read());
    s.forward(std::span(tokens.data() + i, 1), logits);
  }
  SpeedRow r{"tg" + std::to_string(n), depth, n, since(t0), 0, 0};
  r.tokens_per_s = static_cast<double>(n) / r.seconds;
  r.bytes_per_token = bytes / static_cast<double>(n);
  return r;
}

// 64-bit integer sums (associative, so they vectorize and no floating-point add chain limits
// them) over 8 interleaved streams per thread: one sequential stream per core does not saturate
// memory on every machine, while a kernel reading many K/V runs does.
constexpr int64_t kStreams = 8;

ReadProbe::ReadProbe(int64_t bytes)
    : n_(bytes / 8 / kStreams * kStreams),
      memory_(allocate_huge_buffer(static_cast<size_t>(n_) * 8, "bandwidth probe")) {
  auto* a = reinterpret_cast<uint64_t*>(memory_.get());
  const int64_t n = n_;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) a[i] = static_cast<uint64_t>(i);
}

double ReadProbe::measure() const {
  const int64_t n = n_;
  const auto* a = reinterpret_cast<const uint64_t*>(memory_.get());
  static volatile uint64_t sink = 0;
  const auto t0 = Clock::now();
  uint64_t sum = 0;
#pragma omp parallel reduction(+ : sum)
  {
    const int64_t threads = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t per = n / threads / kStreams * kStreams;
    const uint64_t* base = a + id * per;
    const int64_t len = (id == threads - 1 ? n - id * per : per) / kStreams;
    uint64_t part[kStreams] = {};
    for (int64_t i = 0; i < len; ++i)
#pragma omp simd
      for (int64_t s = 0; s < kStreams; ++s) part[s] += base[s * len + i];
    for (uint64_t p : part) sum += p;
  }
  const double sec = since(t0);
  sink = sink + sum;
  return static_cast<double>(n * 8) / sec;
}

namespace {

#if GQA_X86
// 12 independent chains (4-cycle latency x 2 FMA ports + slack) of `iterations` FMAs each.
__attribute__((target("avx512f"))) float fma_chains(int64_t iterations) {
  constexpr int kChains = 12;
  __m512 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], m, a);
  __m512 sum = acc[0];
  for (int j = 1; j < kChains; ++j) sum = _mm512_add_ps(sum, acc[j]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  float total = 0;
  for (float x : lanes) total += x;
  return total;
}
#else
float fma_chains(int64_t) {
  return 0;
}
#endif

}  // namespace

double vector_fma_rate() {
  if (!GQA_X86 || !cpu_features().at_least(Isa::kAvx512)) return 0;
  constexpr int64_t kIterations = 400000;  // 4.8 M FMAs per thread
  static volatile float sink = 0;
  int threads = 1;
  const auto t0 = Clock::now();
#pragma omp parallel
  {
    const float r = fma_chains(kIterations);
#pragma omp critical
    sink = sink + r;
#pragma omp single
    threads = omp_get_num_threads();
  }
  return static_cast<double>(threads) * kIterations * 12 / since(t0);
}

double read_bandwidth(int64_t bytes, int repeats) {
  const ReadProbe probe(bytes);
  double best = 0;
  for (int r = 0; r < repeats; ++r) best = std::max(best, probe.measure());
  return best;
}

}  // namespace gqa::eval

#pragma once
// Prefill and decode speed at a context depth (llama-bench's pp and tg tests), and a
// STREAM-like read-bandwidth probe to put decode's bytes/s in proportion.
#include <cstdint>
#include <string>

#include "core/huge_buffer.h"
#include "model/model.h"
#include "model/session.h"

namespace gqa::eval {

struct SpeedRow {
  std::string test;   // "pp512" or "tg128"
  int64_t depth = 0;  // tokens already in the cache
  int64_t tokens = 0;
  double seconds = 0;
  double tokens_per_s = 0;
  double bytes_per_token = 0;  // decode: weights + KV read per token (mean over the steps)
};

// Prefill of n tokens after `depth` cached positions (filled with noise, not computed).
SpeedRow measure_prefill(const model::Model& m, const model::CacheOptions& cache, int64_t depth,
                         int64_t n, uint64_t seed);
// n single-token decode steps after `depth` cached positions.
SpeedRow measure_decode(const model::Model& m, const model::CacheOptions& cache, int64_t depth,
                        int64_t n, uint64_t seed);

// Bytes per second of summing a `bytes`-sized array with the current OpenMP threads, like
// STREAM's read-only kernels: what a memory-bound decode step can reach. The array is kept, so
// that a benchmark can probe again next to each measurement on a machine whose bandwidth
// drifts (a shared VM).
class ReadProbe {
 public:
  explicit ReadProbe(int64_t bytes);
  double measure() const;  // one pass

 private:
  int64_t n_;          // 64-bit words
  HugeBuffer memory_;  // huge pages, as the KV cache's pool has
};

// The best of `repeats` passes of a fresh ReadProbe.
double read_bandwidth(int64_t bytes, int repeats = 5);

// 16-lane f32 multiply-add instructions per second (AVX-512) with the current OpenMP threads:
// the arithmetic ceiling of a kernel that is not bound by memory. One pass of ~2 ms; 0 without
// AVX-512 (or under GQA_ISA below avx512). A VM's clock drifts as its bandwidth does, so a
// benchmark measures it per round.
double vector_fma_rate();

}  // namespace gqa::eval

#pragma once
// The AVX-512 kernels of paged attention: online-softmax updates of 1, 2, 4 or 8 query rows
// over chunks of 16 tokens of a block, reading the cache's stored bytes of every KV dtype
// directly (keys dimension-major: kv/kv_layout.h). ops/paged_attention.cpp cuts the work into
// chunks and row groups and combines the results.
#include <cstddef>
#include <cstdint>

#include "core/kv_dtype.h"

namespace gqa::ops {

// Lines to fetch ahead while a kernel computes: whole K (or V) runs of later blocks, a few
// lines per loop iteration so that the requests stream out alongside the arithmetic instead of
// stalling it in one burst (one burst per block was 1.3-2x slower for GQA). Hint T1 (into L2):
// T0 and T2 measure the same, NTA twice as slow; every line: fetching every second or fourth
// line, or a run's first lines only for the hardware streamer to follow, is slower.
struct PrefetchPlan {
  static constexpr int kMaxRuns = 8;
  const std::byte* run[kMaxRuns] = {};
  int count = 0;
  size_t bytes = 0;  // of each run
  void add(const std::byte* r, size_t run_bytes) {
    run[count++] = r;
    bytes = run_bytes;
  }
};

// Up to 16 tokens of one block: slots s0 .. s0 + 15 of its K and V runs; live[r]: the slots
// query row r sees (its causal limit and window, within the filled slots), bit i = slot s0 + i.
struct Chunk {
  const std::byte* k_run;
  const std::byte* v_run;
  int64_t s0;
  const uint16_t* live;  // [R]
};

// int8 keys: the R query rows as integers (ops::round_query_int8), their scales and the sums
// of their integers.
struct QueryInt8 {
  const int8_t* q = nullptr;     // [R][head_dim]
  const float* scale = nullptr;  // [R]
  const int32_t* sum = nullptr;  // [R]
};

// q: [R][head_dim] floats, prescaled (int8 keys: rounded, and q8 holds them as integers).
using ChunkFn = void (*)(const float* q, const QueryInt8& q8, const Chunk* ch, int64_t bs,
                         size_t vector_bytes, float* m, float* l, float* acc,
                         const PrefetchPlan& plan_k, const PrefetchPlan& plan_v);

// The kernels for 1, 2, 4 and 8 rows at once, over one chunk or two.
struct ChunkFns {
  ChunkFn fn[2][4] = {};  // [chunks - 1][log2 rows]
  explicit operator bool() const { return fn[0][0] != nullptr; }
};

// The kernels for `t` and head_dim `hd` (32, 48, 64, 80, 96, 128, 256), or none; also none
// when cpu_features() is below Isa::kAvx512 (int8: or lacks AVX512-VNNI; fp8: AVX512-VBMI).
ChunkFns chunk_fns(KvDtype t, int64_t hd);

}  // namespace gqa::ops

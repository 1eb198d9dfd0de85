#include "ops/paged_attention.h"

// GCC 12 AVX-512 headers: see vec.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "ops/exp_simd.h"
#include "ops/fp8_simd.h"
#include "ops/kv_quant.h"

namespace gqa::ops {
namespace {

constexpr int64_t kQueryTile = 16;  // prefill tokens per work item
constexpr int64_t kPrefetchBytes = 16384;

// Partial softmax state of `rows` query rows over part of the context.
struct Partial {
  std::vector<float> m, l, acc;  // [rows], [rows], [rows][head_dim]
  void reset(int64_t rows, int64_t hd) {
    m.assign(static_cast<size_t>(rows), -std::numeric_limits<float>::infinity());
    l.assign(static_cast<size_t>(rows), 0.0f);
    acc.assign(static_cast<size_t>(rows * hd), 0.0f);
  }
};

struct WorkItem {
  int64_t g;       // KV head
  int64_t t0, t1;  // query tokens [t0, t1)
  int64_t j0, j1;  // context tokens [j0, j1) this item reads
};

#define GQA_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,f16c")))
#define GQA_AVX512_INLINE \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx2,f16c"), always_inline)) inline

// 16 keys' values of one dimension from a dimension-major K run, widened to f32 (fp8-e4m3:
// 2^-8 of the value, int8: the integers; the kernel's per-chunk scale restores them). Lanes
// outside `m` read 0.
template <KvDtype T>
GQA_AVX512_INLINE __m512 key_column(const std::byte* p, __mmask16 m) {
  if constexpr (T == KvDtype::kF32) {
    return _mm512_maskz_loadu_ps(m, p);
  } else if constexpr (T == KvDtype::kF16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  } else if constexpr (T == KvDtype::kBF16) {
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
  } else if constexpr (T == KvDtype::kF8E5M2) {
    return _mm512_cvtph_ps(e5m2_as_f16_x16(_mm_maskz_loadu_epi8(m, p)));
  } else if constexpr (T == KvDtype::kF8E4M3) {
    return _mm512_cvtph_ps(e4m3_as_f16_x16(_mm_maskz_loadu_epi8(m, p)));
  } else {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
  }
}

// Chunk c (16 values) of a token-major stored vector, widened like key_column.
template <KvDtype T>
GQA_AVX512_INLINE __m512 value_chunk(const std::byte* vec, int c) {
  if constexpr (T == KvDtype::kF32) {
    return _mm512_loadu_ps(vec + 64 * c);
  } else if constexpr (T == KvDtype::kF16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(vec) + c));
  } else if constexpr (T == KvDtype::kBF16) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(vec) + c)), 16));
  } else if constexpr (T == KvDtype::kF8E5M2) {
    return _mm512_cvtph_ps(
        e5m2_as_f16_x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vec + 16 * c))));
  } else if constexpr (T == KvDtype::kF8E4M3) {
    return _mm512_cvtph_ps(
        e4m3_as_f16_x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vec + 16 * c))));
  } else {
    return _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vec + 4 + 16 * c))));
  }
}

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

// Walks a plan's lines; a local of the kernel, so its state stays in registers.
struct PrefetchCursor {
  const std::byte* p = nullptr;
  const std::byte* end = nullptr;
  const std::byte* const* next;
  const std::byte* const* last;
  size_t bytes;
  explicit PrefetchCursor(const PrefetchPlan& plan)
      : next(plan.run), last(plan.run + plan.count), bytes(plan.bytes) {}
  // Lines per iteration to finish within `iterations`.
  int per_iteration(int iterations) const {
    const size_t lines = static_cast<size_t>(last - next) * ((bytes + 63) / 64);
    return static_cast<int>((lines + static_cast<size_t>(iterations) - 1) /
                            static_cast<size_t>(iterations));
  }
  GQA_AVX512_INLINE void issue(int lines) {
    for (int i = 0; i < lines; ++i) {
      if (p >= end) {
        if (next == last) return;
        p = *next++;
        end = p + bytes;
      }
      _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1);
      p += 64;
    }
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

// Online-softmax update of R query rows over NK chunks: q: [R][16 * NC] (prescaled),
// acc: [R][16 * NC], m and l: [R].
//   scores: each dimension of a chunk's 16 keys is one load, reused by all R rows through
//           broadcast FMAs into one register of 16 scores per row (NK * R * P independent sums:
//           8 or more chains keep the FMA pipes full);
//   softmax: one running-max update per row for all NK chunks, exp on 16 lanes at a time;
//   values: acc[r] += p[r][j] * v_j, each value chunk loaded once for the R rows.
// Two chunks per call halve the per-call softmax and loop overheads and give one or two rows
// (MHA decode) independent work to overlap; measured per chunk (one core, in L2): f16 R = 1
// 480 -> 250 ns, R = 4 610 -> 410 ns.
template <int NC, int R, int NK, KvDtype T>
GQA_AVX512 void rows_chunks(const float* q, const Chunk* ch, int64_t bs, size_t vector_bytes,
                            float* m, float* l, float* acc, const PrefetchPlan& plan_k,
                            const PrefetchPlan& plan_v) {
  constexpr int kHd = 16 * NC, kP = R * NK >= 8 ? 1 : 8 / (R * NK),
                kCg = R >= 8   ? 2
                      : R == 4 ? 4
                               : 8;
  static_assert(R == 1 || R == 2 || R == 4 || R == 8);
  constexpr size_t kEs = T == KvDtype::kF32 ? 4 : T == KvDtype::kF16 || T == KvDtype::kBF16 ? 2 : 1;
  const size_t scale_bytes = T == KvDtype::kInt8 ? 4 * static_cast<size_t>(bs) : 0;
  const size_t dstride = static_cast<size_t>(bs) * kEs;
  __mmask16 any[NK];
  const std::byte* kcol[NK];
  for (int k = 0; k < NK; ++k) {
    any[k] = 0;
    for (int r = 0; r < R; ++r) any[k] |= ch[k].live[r];
    kcol[k] = ch[k].k_run + scale_bytes + static_cast<size_t>(ch[k].s0) * kEs;
  }

  __m512 s[NK][R][kP];
#pragma GCC unroll 2
  for (int k = 0; k < NK; ++k)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int p = 0; p < kP; ++p) s[k][r][p] = _mm512_setzero_ps();
  PrefetchCursor pf_k(plan_k), pf_v(plan_v);
  const int pf_k_lines = pf_k.per_iteration(kHd / kP);
  for (int d = 0; d < kHd; d += kP) {
    pf_k.issue(pf_k_lines);
#pragma GCC unroll 8
    for (int p = 0; p < kP; ++p) {
#pragma GCC unroll 2
      for (int k = 0; k < NK; ++k) {
        const __m512 kd = key_column<T>(kcol[k] + static_cast<size_t>(d + p) * dstride, any[k]);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r)
          s[k][r][p] = _mm512_fmadd_ps(_mm512_set1_ps(q[r * kHd + d + p]), kd, s[k][r][p]);
      }
    }
  }

  // Softmax: the new running max per row, the correction of the old sums, exp of the scores.
  __m512 sc[NK][R];
  alignas(64) float row_max[16], m_new[16], corr[16], row_sum[16] = {};
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) row_max[r] = -INFINITY;
#pragma GCC unroll 2
  for (int k = 0; k < NK; ++k) {
    __m512 kscale = _mm512_set1_ps(T == KvDtype::kF8E4M3 ? 256.0f : 1.0f);
    if constexpr (T == KvDtype::kInt8)
      kscale = _mm512_maskz_loadu_ps(any[k], ch[k].k_run + 4 * ch[k].s0);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      sc[k][r] = s[k][r][0];
#pragma GCC unroll 8
      for (int p = 1; p < kP; ++p) sc[k][r] = _mm512_add_ps(sc[k][r], s[k][r][p]);
      sc[k][r] = _mm512_mul_ps(sc[k][r], kscale);
      // -inf where no slot is live
      row_max[r] = std::max(row_max[r], _mm512_mask_reduce_max_ps(ch[k].live[r], sc[k][r]));
    }
  }
  constexpr __mmask16 kRows = static_cast<__mmask16>((1u << R) - 1);
  const __m512 m_old = _mm512_maskz_loadu_ps(kRows, m);
  const __m512 mx = _mm512_max_ps(m_old, _mm512_maskz_load_ps(kRows, row_max));
  // Rows that have seen nothing yet (max still -inf) keep their zero sums: correction 1.
  const __mmask16 seen = _mm512_cmp_ps_mask(mx, _mm512_set1_ps(-INFINITY), _CMP_GT_OQ);
  const __m512 c = _mm512_mask_blend_ps(
      seen, _mm512_set1_ps(1.0f),
      exp_nonpos_avx512(_mm512_maskz_sub_ps(seen, m_old, mx)));  // 0 when m_old = -inf
  _mm512_store_ps(m_new, mx);
  _mm512_store_ps(corr, c);
  _mm512_mask_storeu_ps(m, kRows, mx);
  alignas(64) float pr[NK][R][16];
#pragma GCC unroll 2
  for (int k = 0; k < NK; ++k) {
    __m512 vscale = _mm512_set1_ps(T == KvDtype::kF8E4M3 ? 256.0f : 1.0f);
    if constexpr (T == KvDtype::kInt8) {  // each value vector's f32 scale leads it
      const __m512i at = _mm512_mullo_epi32(
          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
          _mm512_set1_epi32(static_cast<int>(vector_bytes)));
      vscale =
          _mm512_mask_i32gather_ps(_mm512_setzero_ps(), any[k], at,
                                   ch[k].v_run + static_cast<size_t>(ch[k].s0) * vector_bytes, 1);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 e = _mm512_maskz_mov_ps(
          ch[k].live[r], exp_nonpos_avx512(_mm512_sub_ps(sc[k][r], _mm512_set1_ps(m_new[r]))));
      row_sum[r] += _mm512_reduce_add_ps(e);
      _mm512_store_ps(pr[k][r], _mm512_mul_ps(e, vscale));
    }
  }
  _mm512_mask_storeu_ps(
      l, kRows,
      _mm512_fmadd_ps(_mm512_maskz_loadu_ps(kRows, l), c, _mm512_maskz_load_ps(kRows, row_sum)));

  int passes = 0;  // V loop iterations, to spread the prefetches over
  for (int k = 0; k < NK; ++k)
    if (any[k]) passes += 32 - __builtin_clz(any[k]) - __builtin_ctz(any[k]);
  const int pf_v_lines = pf_v.per_iteration(std::max(1, passes * ((NC + kCg - 1) / kCg)));
#pragma GCC unroll 16
  for (int c0 = 0; c0 < NC; c0 += kCg) {
    __m512 a[R][kCg];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int c = 0; c < kCg; ++c)
        if (c0 + c < NC)
          a[r][c] = _mm512_mul_ps(_mm512_loadu_ps(acc + r * kHd + 16 * (c0 + c)),
                                  _mm512_set1_ps(corr[r]));
#pragma GCC unroll 1
    for (int k = 0; k < NK; ++k) {
      if (!any[k]) continue;
      const int j0 = __builtin_ctz(any[k]), j1 = 32 - __builtin_clz(any[k]);
      const std::byte* vrow = ch[k].v_run + static_cast<size_t>(ch[k].s0) * vector_bytes;
      for (int j = j0; j < j1; ++j) {
        pf_v.issue(pf_v_lines);
        const std::byte* vj = vrow + static_cast<size_t>(j) * vector_bytes;
#pragma GCC unroll 8
        for (int c = 0; c < kCg; ++c) {
          if (c0 + c >= NC) continue;
          const __m512 x = value_chunk<T>(vj, c0 + c);
#pragma GCC unroll 8
          for (int r = 0; r < R; ++r)
            a[r][c] = _mm512_fmadd_ps(_mm512_set1_ps(pr[k][r][j]), x, a[r][c]);
        }
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int c = 0; c < kCg; ++c)
        if (c0 + c < NC) _mm512_storeu_ps(acc + r * kHd + 16 * (c0 + c), a[r][c]);
  }
}

using ChunkFn = void (*)(const float* q, const Chunk* ch, int64_t bs, size_t vector_bytes, float* m,
                         float* l, float* acc, const PrefetchPlan& plan_k,
                         const PrefetchPlan& plan_v);

// The kernels for 1, 2, 4 and 8 rows at once, over one chunk or two.
struct ChunkFns {
  ChunkFn fn[2][4] = {};  // [chunks - 1][log2 rows]
  explicit operator bool() const { return fn[0][0] != nullptr; }
};

template <int NC, KvDtype T>
ChunkFns chunk_fns_for() {
  return {{{rows_chunks<NC, 1, 1, T>, rows_chunks<NC, 2, 1, T>, rows_chunks<NC, 4, 1, T>,
            rows_chunks<NC, 8, 1, T>},
           {rows_chunks<NC, 1, 2, T>, rows_chunks<NC, 2, 2, T>, rows_chunks<NC, 4, 2, T>,
            rows_chunks<NC, 8, 2, T>}}};
}

template <KvDtype T>
ChunkFns chunk_fns_for_dim(int64_t hd) {
  switch (hd) {
    case 32:
      return chunk_fns_for<2, T>();
    case 48:
      return chunk_fns_for<3, T>();
    case 64:
      return chunk_fns_for<4, T>();
    case 80:
      return chunk_fns_for<5, T>();
    case 96:
      return chunk_fns_for<6, T>();
    case 128:
      return chunk_fns_for<8, T>();
    case 256:
      return chunk_fns_for<16, T>();
    default:
      return {};
  }
}

ChunkFns chunk_fns(KvDtype t, int64_t hd) {
  switch (t) {
    case KvDtype::kF32:
      return chunk_fns_for_dim<KvDtype::kF32>(hd);
    case KvDtype::kF16:
      return chunk_fns_for_dim<KvDtype::kF16>(hd);
    case KvDtype::kBF16:
      return chunk_fns_for_dim<KvDtype::kBF16>(hd);
    case KvDtype::kF8E4M3:
      return chunk_fns_for_dim<KvDtype::kF8E4M3>(hd);
    case KvDtype::kF8E5M2:
      return chunk_fns_for_dim<KvDtype::kF8E5M2>(hd);
    case KvDtype::kInt8:
      return chunk_fns_for_dim<KvDtype::kInt8>(hd);
    default:
      return {};
  }
}

bool avx512_rows(const VecOps& vec) {
  static const bool cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c");
  return cpu && &vec == &vec_ops() && std::string_view(vec.name) == "avx512";
}

// Bits of the 16 slots s0 .. s0 + 15 that fall in [lo, hi).
uint16_t slot_mask(int64_t s0, int64_t lo, int64_t hi) {
  const int64_t a = std::max(lo, s0) - s0, b = std::min(hi, s0 + 16) - s0;
  if (a >= b) return 0;
  return static_cast<uint16_t>(((uint32_t{1} << b) - 1) & ~((uint32_t{1} << a) - 1));
}

// Per-thread buffers of run_item.
struct Scratch {
  std::vector<float> q_rows, ktile, vtile, scores;
  std::vector<int64_t> row_lo, row_hi;
  std::vector<Chunk> chunks;
  std::vector<int64_t> chunk_block;
  std::vector<uint16_t> live;  // [chunk][row]
};

// Row r of item w sees context tokens [row_lo[r], row_hi[r]).
void row_ranges(const AttentionShape& s, const WorkItem& w, int64_t first_pos, int64_t rows,
                Scratch& x) {
  const int64_t n_rep = s.heads / s.kv_heads;
  x.row_lo.resize(static_cast<size_t>(rows));
  x.row_hi.resize(static_cast<size_t>(rows));
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t qpos = first_pos + w.t0 + row / n_rep;
    x.row_hi[row] = std::min(w.j1, qpos + 1);
    x.row_lo[row] = s.window > 0 ? std::max(w.j0, qpos - s.window + 1) : w.j0;
  }
}

// AVX-512: the item's tokens as chunks of 16 slots from each block's start, handed to the chunk
// kernels two at a time (rows in groups of 8, 4, 2, 1). Blocks of one KV head are a block apart in
// memory, which hardware prefetchers do not follow: the first row group of each call fetches the
// runs of the blocks up to ~16 KiB past its last one.
void run_item_avx512(const AttentionShape& s, const PagedKv& kv, const WorkItem& w, int64_t rows,
                     const ChunkFns& fns, const float* q_rows, Partial& p, Scratch& x) {
  const int64_t hd = s.head_dim, bs = kv.block_size;
  x.chunks.clear();
  x.chunk_block.clear();
  x.live.clear();
  for (int64_t b = w.j0 / bs; b * bs < w.j1; ++b) {
    const int64_t lo_tok = std::max(b * bs, w.j0), hi_tok = std::min(b * bs + bs, w.j1);
    for (int64_t s0 = (lo_tok - b * bs) / 16 * 16; b * bs + s0 < hi_tok; s0 += 16) {
      x.chunks.push_back(
          {kv.blocks[b] + kv.k_offset[w.g], kv.blocks[b] + kv.v_offset[w.g], s0, nullptr});
      x.chunk_block.push_back(b);
      for (int64_t row = 0; row < rows; ++row)
        x.live.push_back(slot_mask(s0, std::max(x.row_lo[row], lo_tok) - b * bs,
                                   std::min(x.row_hi[row], hi_tok) - b * bs));
    }
  }
  const size_t n_chunks = x.chunks.size();
  constexpr int nk = 2;
  const int64_t last_block = (w.j1 - 1) / bs;
  const size_t run = static_cast<size_t>(bs) * kv.vector_bytes;
  // Fetch about 16 KiB of this KV head ahead: enough bytes in flight to cover the memory
  // latency at one core's share of the bandwidth (~10 GB/s x ~1 us on a loaded VM). Measured
  // (f16 and int8, MHA and GQA-8 at 32k): 8 KiB slower, 32 and 64 KiB no faster.
  const int64_t ahead = std::max<int64_t>(1, kPrefetchBytes / static_cast<int64_t>(2 * run));
  int64_t next_fetch = w.j0 / bs + 1;  // first block not yet prefetched
  for (size_t i = 0; i < n_chunks; i += static_cast<size_t>(nk)) {
    const int k_here = static_cast<int>(std::min<size_t>(static_cast<size_t>(nk), n_chunks - i));
    PrefetchPlan pf_k, pf_v;
    const int64_t want =
        std::min(last_block, x.chunk_block[i + static_cast<size_t>(k_here) - 1] + ahead);
    for (; next_fetch <= want && pf_k.count < PrefetchPlan::kMaxRuns; ++next_fetch) {
      pf_k.add(kv.blocks[next_fetch] + kv.k_offset[w.g], run);
      pf_v.add(kv.blocks[next_fetch] + kv.v_offset[w.g], run);
    }
    for (int64_t r0 = 0; r0 < rows;) {
      const int64_t left = rows - r0;
      const int idx = left >= 8 ? 3 : left >= 4 ? 2 : left >= 2 ? 1 : 0;
      Chunk ch[2];
      for (int k = 0; k < k_here; ++k) {
        ch[k] = x.chunks[i + static_cast<size_t>(k)];
        ch[k].live = x.live.data() + (i + static_cast<size_t>(k)) * static_cast<size_t>(rows) + r0;
      }
      fns.fn[k_here - 1][idx](q_rows + r0 * hd, ch, bs, kv.vector_bytes, p.m.data() + r0,
                              p.l.data() + r0, p.acc.data() + r0 * hd, pf_k, pf_v);
      pf_k = pf_v = PrefetchPlan{};  // the first row group fetches
      r0 += int64_t{1} << idx;
    }
  }
}

// Without AVX-512: each block widened into f32 tiles ([block_size][hd]), scored with `vec`.
void run_item_tiles(const AttentionShape& s, const PagedKv& kv, const WorkItem& w, int64_t rows,
                    const float* q_rows, Partial& p, Scratch& x, const VecOps& vec) {
  const int64_t hd = s.head_dim, bs = kv.block_size;
  x.ktile.resize(static_cast<size_t>(bs * hd));
  x.vtile.resize(x.ktile.size());
  x.scores.resize(static_cast<size_t>(bs));
  float* scores = x.scores.data();
  for (int64_t b = w.j0 / bs; b * bs < w.j1; ++b) {
    const int64_t lo_tok = std::max(b * bs, w.j0), hi_tok = std::min(b * bs + bs, w.j1);
    const int64_t count = hi_tok - lo_tok;
    decode_k_slots(kv.dtype, kv.blocks[b] + kv.k_offset[w.g], hd, bs, lo_tok - b * bs, count,
                   x.ktile.data());
    decode_kv_vectors(
        kv.dtype,
        kv.blocks[b] + kv.v_offset[w.g] + static_cast<size_t>(lo_tok - b * bs) * kv.vector_bytes,
        count, hd, kv.vector_bytes, x.vtile.data());
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t lo = std::max(lo_tok, x.row_lo[row]), hi = std::min(hi_tok, x.row_hi[row]);
      if (lo >= hi) continue;
      const float* qr = q_rows + row * hd;
      float* acc = p.acc.data() + row * hd;
      const int64_t cnt = hi - lo;
      float mx = p.m[row];
      for (int64_t j = lo; j < hi; ++j) {
        scores[j - lo] = vec.dot(qr, x.ktile.data() + (j - lo_tok) * hd, hd);
        mx = std::max(mx, scores[j - lo]);
      }
      if (mx > p.m[row]) {
        const float corr = std::exp(p.m[row] - mx);  // 0 on the first block (m = -inf)
        p.l[row] *= corr;
        vec.scale(corr, acc, hd);
        p.m[row] = mx;
      }
      for (int64_t j = 0; j < cnt; ++j) scores[j] -= mx;
      vec.exp_nonpos(scores, cnt);
      for (int64_t j = 0; j < cnt; ++j) {
        p.l[row] += scores[j];
        vec.axpy(scores[j], x.vtile.data() + (lo + j - lo_tok) * hd, acc, hd);
      }
    }
  }
}

// Accumulates the query rows (t, r) of item w over its tokens into p. x.q_rows: [rows][hd],
// prescaled.
void run_item(const AttentionShape& s, const PagedKv& kv, const WorkItem& w, int64_t first_pos,
              Partial& p, Scratch& x, const VecOps& vec) {
  const int64_t rows = (w.t1 - w.t0) * (s.heads / s.kv_heads);
  p.reset(rows, s.head_dim);
  row_ranges(s, w, first_pos, rows, x);
  const ChunkFns fns = avx512_rows(vec) ? chunk_fns(kv.dtype, s.head_dim) : ChunkFns{};
  if (fns)
    run_item_avx512(s, kv, w, rows, fns, x.q_rows.data(), p, x);
  else
    run_item_tiles(s, kv, w, rows, x.q_rows.data(), p, x, vec);
}

}  // namespace

void paged_attention(const AttentionShape& s, const PagedKv& kv, const float* q, int64_t n_q,
                     int64_t first_pos, float* out, const VecOps& vec) {
  const int64_t hd = s.head_dim, n_rep = s.heads / s.kv_heads, bs = kv.block_size;
  const int threads = omp_get_max_threads();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // Work items: (KV head, query tile, context split). Decode of one token splits its context
  // so that every thread has work even with few KV heads (MQA).
  // Kept per calling thread, as are the workers' scratch buffers: a decode step calls this once
  // per layer (and per sequence when serving a batch), mostly over short contexts.
  // (References: inside the parallel region a thread_local name would be the worker's own.)
  static thread_local std::vector<WorkItem> items_of_caller;
  static thread_local std::vector<int64_t> group_first_of_caller;
  static thread_local std::vector<Partial> partials_of_caller;
  std::vector<WorkItem>& items = items_of_caller;
  std::vector<int64_t>& group_first = group_first_of_caller;  // first item of each (g, tile)
  std::vector<Partial>& partials = partials_of_caller;
  items.clear();
  group_first.clear();
  int64_t work = 0;  // chunks of 16 tokens times query tiles, to decide on threads
  for (int64_t g = 0; g < s.kv_heads; ++g) {
    for (int64_t t0 = 0; t0 < n_q; t0 += kQueryTile) {
      const int64_t t1 = std::min(n_q, t0 + kQueryTile);
      const int64_t j0 = s.window > 0 ? std::max<int64_t>(0, first_pos + t0 - s.window + 1) : 0;
      const int64_t j1 = first_pos + t1;
      int64_t splits = 1;
      if (n_q == 1) {
        const int64_t blocks = (j1 - j0 + bs - 1) / bs;
        splits = std::clamp<int64_t>((2 * threads + s.kv_heads - 1) / s.kv_heads, 1, blocks);
      }
      // Split on block boundaries so no block is decoded twice.
      const int64_t first_block = j0 / bs, last_block = (j1 - 1) / bs;
      const int64_t nb = last_block - first_block + 1;
      group_first.push_back(static_cast<int64_t>(items.size()));
      for (int64_t k = 0; k < splits; ++k) {
        const int64_t b_lo = first_block + nb * k / splits,
                      b_hi = first_block + nb * (k + 1) / splits;
        if (b_lo == b_hi) continue;
        items.push_back({g, t0, t1, std::max(j0, b_lo * bs), std::min(j1, b_hi * bs)});
        work += (items.back().j1 - items.back().j0 + 15) / 16;
      }
    }
  }
  group_first.push_back(static_cast<int64_t>(items.size()));
  if (partials.size() < items.size()) partials.resize(items.size());

    // Forking threads costs microseconds; below ~32 chunks one thread is faster.
#pragma omp parallel if (work >= 32)
  {
    static thread_local Scratch x;
    std::vector<float>& q_rows = x.q_rows;
#pragma omp for schedule(dynamic)
    for (size_t i = 0; i < items.size(); ++i) {
      const WorkItem& w = items[i];
      const int64_t rows = (w.t1 - w.t0) * n_rep;
      q_rows.resize(static_cast<size_t>(rows * hd));
      for (int64_t row = 0; row < rows; ++row) {
        const int64_t t = w.t0 + row / n_rep, h = w.g * n_rep + row % n_rep;
        const float* src = q + (t * s.heads + h) * hd;
        for (int64_t d = 0; d < hd; ++d) q_rows[static_cast<size_t>(row * hd + d)] = src[d] * scale;
      }
      run_item(s, kv, w, first_pos, partials[i], x, vec);
    }
  }
  // Combine the splits of each (KV head, query tile): rescale to the common max and normalize.
  for (size_t grp = 0; grp + 1 < group_first.size(); ++grp) {
    const int64_t a = group_first[grp], z = group_first[grp + 1];
    if (a == z) continue;
    const WorkItem& w = items[static_cast<size_t>(a)];
    const int64_t rows = (w.t1 - w.t0) * n_rep;
    for (int64_t row = 0; row < rows; ++row) {
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t i = a; i < z; ++i) mx = std::max(mx, partials[static_cast<size_t>(i)].m[row]);
      const int64_t t = w.t0 + row / n_rep, h = w.g * n_rep + row % n_rep;
      float* o = out + (t * s.heads + h) * hd;
      std::fill(o, o + hd, 0.0f);
      float total = 0.0f;
      for (int64_t i = a; i < z; ++i) {
        const Partial& p = partials[static_cast<size_t>(i)];
        if (p.l[row] == 0.0f) continue;
        const float c = std::exp(p.m[row] - mx);
        total += p.l[row] * c;
        vec.axpy(c, p.acc.data() + row * hd, o, hd);
      }
      vec.scale(1.0f / total, o, hd);
    }
  }
}

void paged_attention_reference(const AttentionShape& s, const PagedKv& kv, const float* q,
                               int64_t n_q, int64_t first_pos, float* out) {
  const int64_t hd = s.head_dim, n_rep = s.heads / s.kv_heads, bs = kv.block_size;
  const int64_t n = first_pos + n_q;
  std::vector<float> k(static_cast<size_t>(s.kv_heads * n * hd)), v(k.size());
  for (int64_t g = 0; g < s.kv_heads; ++g)
    for (int64_t j = 0; j < n; ++j) {
      const std::byte* base = kv.blocks[j / bs] + static_cast<size_t>(j % bs) * kv.vector_bytes;
      decode_k_slots(kv.dtype, kv.blocks[j / bs] + kv.k_offset[g], hd, bs, j % bs, 1,
                     &k[(g * n + j) * hd]);
      decode_kv_vectors(kv.dtype, base + kv.v_offset[g], 1, hd, kv.vector_bytes,
                        &v[(g * n + j) * hd]);
    }
  for (int64_t t = 0; t < n_q; ++t) {
    const int64_t pos = first_pos + t;
    const int64_t lo = s.window > 0 ? std::max<int64_t>(0, pos - s.window + 1) : 0;
    for (int64_t h = 0; h < s.heads; ++h) {
      const int64_t g = h / n_rep;
      std::vector<double> sc;
      double mx = -INFINITY;
      for (int64_t j = lo; j <= pos; ++j) {
        double d = 0;
        for (int64_t i = 0; i < hd; ++i)
          d += double(q[(t * s.heads + h) * hd + i]) * k[(g * n + j) * hd + i];
        sc.push_back(d / std::sqrt(double(hd)));
        mx = std::max(mx, sc.back());
      }
      double sum = 0;
      for (double& x : sc) sum += (x = std::exp(x - mx));
      for (int64_t i = 0; i < hd; ++i) {
        double acc = 0;
        for (int64_t j = lo; j <= pos; ++j)
          acc += sc[static_cast<size_t>(j - lo)] / sum * v[(g * n + j) * hd + i];
        out[(t * s.heads + h) * hd + i] = static_cast<float>(acc);
      }
    }
  }
}

}  // namespace gqa::ops

#include "ops/paged_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/attention_chunks_avx512.h"
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

// The chunk kernels stand in for the AVX-512 vec ops only (tests pass other vec ops to reach the
// tile path).
bool avx512_rows(const VecOps& vec) {
  return vec.isa == Isa::kAvx512;
}

// Bits of the 16 slots s0 .. s0 + 15 that fall in [lo, hi).
uint16_t slot_mask(int64_t s0, int64_t lo, int64_t hi) {
  const int64_t a = std::max(lo, s0) - s0, b = std::min(hi, s0 + 16) - s0;
  if (a >= b) return 0;
  return static_cast<uint16_t>(((uint32_t{1} << b) - 1) & ~((uint32_t{1} << a) - 1));
}

// One worker thread's buffers of run_item (cache-line aligned: threads resize their own).
struct alignas(64) Scratch {
  std::vector<float> q_rows, ktile, vtile, scores;
  std::vector<int8_t> q8;  // int8 keys: q_rows as integers [rows][hd], their scales and sums
  std::vector<float> q8_scale;
  std::vector<int32_t> q8_sum;
  std::vector<int64_t> row_lo, row_hi;
  std::vector<Chunk> chunks;
  std::vector<int64_t> chunk_block;
  std::vector<uint16_t> live;  // [chunk][row]
};

}  // namespace

// What paged_attention keeps between calls: the work items of a call, their partial softmax
// states and each worker thread's scratch.
struct AttentionScratch::Buffers {
  std::vector<WorkItem> items;
  std::vector<int64_t> group_first;  // first item of each (KV head, query tile), and the end
  std::vector<Partial> partials;     // [items]
  std::vector<Scratch> threads;      // [OpenMP threads]
};

namespace {

// int8 keys: every path scores with the query rows rounded to int8 (the reference too).
void round_query_rows_int8(float* q_rows, int64_t rows, int64_t hd, Scratch& x) {
  x.q8.resize(static_cast<size_t>(rows * hd));
  x.q8_scale.resize(static_cast<size_t>(rows));
  x.q8_sum.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    int8_t* ints = x.q8.data() + r * hd;
    x.q8_scale[r] = round_query_int8(q_rows + r * hd, hd, ints);
    int32_t sum = 0;
    for (int64_t d = 0; d < hd; ++d) sum += ints[d];
    x.q8_sum[r] = sum;
  }
}

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
      const QueryInt8 q8{x.q8.data() + r0 * hd, x.q8_scale.data() + r0, x.q8_sum.data() + r0};
      fns.fn[k_here - 1][idx](q_rows + r0 * hd, q8, ch, bs, kv.vector_bytes, p.m.data() + r0,
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
// prescaled (int8 keys: rounded, x.q8 holding them as integers).
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

namespace {

// Query tiles of a call of n_q queries, and the context splits of a decode call (n_q == 1) over
// `blocks` blocks: every thread gets work even with few KV heads (MQA).
int64_t query_tiles(int64_t n_q) {
  return (n_q + kQueryTile - 1) / kQueryTile;
}
int64_t decode_splits(int64_t kv_heads, int threads, int64_t blocks) {
  return std::clamp<int64_t>((2 * threads + kv_heads - 1) / kv_heads, 1,
                             std::max<int64_t>(blocks, 1));
}

}  // namespace

AttentionScratch::AttentionScratch() : b_(std::make_unique<Buffers>()) {}
AttentionScratch::~AttentionScratch() = default;
AttentionScratch::AttentionScratch(AttentionScratch&&) noexcept = default;
AttentionScratch& AttentionScratch::operator=(AttentionScratch&&) noexcept = default;

void AttentionScratch::reserve(const AttentionShape& s, int64_t block_size, int64_t max_queries,
                               int64_t max_context) {
  const int threads = omp_get_max_threads();
  const int64_t hd = s.head_dim, n_rep = s.heads / s.kv_heads;
  const int64_t tiles = query_tiles(max_queries);
  const int64_t blocks = (max_context + block_size - 1) / block_size;
  const int64_t items = s.kv_heads * std::max(tiles, decode_splits(s.kv_heads, threads, blocks));
  const int64_t rows = std::min(max_queries, kQueryTile) * n_rep;
  // Chunks of 16 slots an item walks: each block's slots from the first live one, so at most
  // ceil(block_size / 16) + 1 per block.
  const int64_t chunks = blocks * ((block_size + 15) / 16 + 1);
  Buffers& b = *b_;
  b.items.reserve(static_cast<size_t>(items));
  b.group_first.reserve(static_cast<size_t>(s.kv_heads * tiles + 1));
  if (b.partials.size() < static_cast<size_t>(items)) b.partials.resize(static_cast<size_t>(items));
  for (Partial& p : b.partials) {
    p.m.reserve(static_cast<size_t>(rows));
    p.l.reserve(static_cast<size_t>(rows));
    p.acc.reserve(static_cast<size_t>(rows * hd));
  }
  if (b.threads.size() < static_cast<size_t>(threads))
    b.threads.resize(static_cast<size_t>(threads));
  for (Scratch& x : b.threads) {
    const auto n = static_cast<size_t>(rows), nd = static_cast<size_t>(rows * hd);
    x.q_rows.reserve(nd);
    x.q8.reserve(nd);
    x.q8_scale.reserve(n);
    x.q8_sum.reserve(n);
    x.row_lo.reserve(n);
    x.row_hi.reserve(n);
    x.ktile.reserve(static_cast<size_t>(block_size * hd));
    x.vtile.reserve(static_cast<size_t>(block_size * hd));
    x.scores.reserve(static_cast<size_t>(block_size));
    x.chunks.reserve(static_cast<size_t>(chunks));
    x.chunk_block.reserve(static_cast<size_t>(chunks));
    x.live.reserve(static_cast<size_t>(chunks * rows));
  }
}

void paged_attention(const AttentionShape& s, const PagedKv& kv, const float* q, int64_t n_q,
                     int64_t first_pos, float* out, AttentionScratch& scratch, const VecOps& vec) {
  const int64_t hd = s.head_dim, n_rep = s.heads / s.kv_heads, bs = kv.block_size;
  const int threads = omp_get_max_threads();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  AttentionScratch::Buffers& b = *scratch.b_;
  // Work items: (KV head, query tile, context split). Decode of one token splits its context
  // so that every thread has work even with few KV heads (MQA).
  std::vector<WorkItem>& items = b.items;
  std::vector<int64_t>& group_first = b.group_first;
  std::vector<Partial>& partials = b.partials;
  items.clear();
  group_first.clear();
  int64_t work = 0;  // chunks of 16 tokens times query tiles, to decide on threads
  for (int64_t g = 0; g < s.kv_heads; ++g) {
    for (int64_t t0 = 0; t0 < n_q; t0 += kQueryTile) {
      const int64_t t1 = std::min(n_q, t0 + kQueryTile);
      const int64_t j0 = s.window > 0 ? std::max<int64_t>(0, first_pos + t0 - s.window + 1) : 0;
      const int64_t j1 = first_pos + t1;
      // Split on block boundaries so no block is decoded twice.
      const int64_t first_block = j0 / bs, last_block = (j1 - 1) / bs;
      const int64_t nb = last_block - first_block + 1;
      const int64_t splits =
          n_q == 1 ? decode_splits(s.kv_heads, threads, (j1 - j0 + bs - 1) / bs) : 1;
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
  if (b.threads.size() < static_cast<size_t>(threads))
    b.threads.resize(static_cast<size_t>(threads));

    // Forking threads costs microseconds; below ~32 chunks one thread is faster.
#pragma omp parallel if (work >= 32)
  {
    Scratch& x = b.threads[static_cast<size_t>(omp_get_thread_num())];
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
      if (kv.dtype == KvDtype::kInt8) round_query_rows_int8(q_rows.data(), rows, hd, x);
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
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  std::vector<float> qs(static_cast<size_t>(hd));
  for (int64_t t = 0; t < n_q; ++t) {
    const int64_t pos = first_pos + t;
    const int64_t lo = s.window > 0 ? std::max<int64_t>(0, pos - s.window + 1) : 0;
    for (int64_t h = 0; h < s.heads; ++h) {
      const int64_t g = h / n_rep;
      // The query prescaled in f32 as the kernels do; for int8 keys, rounded as they do.
      for (int64_t i = 0; i < hd; ++i) qs[i] = q[(t * s.heads + h) * hd + i] * scale;
      if (kv.dtype == KvDtype::kInt8) round_query_int8(qs.data(), hd, nullptr);
      std::vector<double> sc;
      double mx = -INFINITY;
      for (int64_t j = lo; j <= pos; ++j) {
        double d = 0;
        for (int64_t i = 0; i < hd; ++i) d += double(qs[i]) * k[(g * n + j) * hd + i];
        sc.push_back(d);
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

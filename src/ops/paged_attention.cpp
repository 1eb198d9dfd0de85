#include "ops/paged_attention.h"

// GCC 12 AVX-512 headers: see vec.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <vector>

#include "ops/exp_simd.h"
#include "ops/kv_quant.h"

namespace gqa::ops {
namespace {

constexpr int64_t kQueryTile = 16;  // prefill tokens per work item

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

// Online-softmax update of one query row over tile tokens [lo, hi), hi - lo <= 16 (indices
// into k/v tiles),
// written for AVX-512 with the row's query and accumulator held in NC registers each
// (head_dim = 16 * NC, a compile-time count so nothing spills).
template <int NC>
__attribute__((target("avx512f"))) void row_tile_avx512(const float* qr, const float* k,
                                                        const float* v, int64_t lo, int64_t hi,
                                                        float& m, float& l, float* acc,
                                                        float* scores) {
  constexpr int64_t hd = 16 * NC;
  __m512 reg[NC];
  for (int c = 0; c < NC; ++c) reg[c] = _mm512_loadu_ps(qr + 16 * c);
  float mx = m;
  for (int64_t j = lo; j < hi; ++j) {
    const float* kj = k + j * hd;
    __m512 s0 = _mm512_mul_ps(reg[0], _mm512_loadu_ps(kj));
    __m512 s1 = _mm512_setzero_ps();
    for (int c = 1; c < NC; ++c) {
      if (c % 2)
        s1 = _mm512_fmadd_ps(reg[c], _mm512_loadu_ps(kj + 16 * c), s1);
      else
        s0 = _mm512_fmadd_ps(reg[c], _mm512_loadu_ps(kj + 16 * c), s0);
    }
    const float sc = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    scores[j - lo] = sc;
    mx = std::max(mx, sc);
  }
  float corr = 1.0f;
  if (mx > m) {
    corr = std::exp(m - mx);  // 0 on the first tile (m = -inf)
    l *= corr;
    m = mx;
  }
  const int64_t cnt = hi - lo;  // <= 16: one tile of a block
  const __mmask16 live = static_cast<__mmask16>((1u << cnt) - 1);
  const __m512 e =
      exp_nonpos_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, scores), _mm512_set1_ps(mx)));
  _mm512_mask_storeu_ps(scores, live, e);
  const __m512 vc = _mm512_set1_ps(corr);
  for (int c = 0; c < NC; ++c) reg[c] = _mm512_mul_ps(_mm512_loadu_ps(acc + 16 * c), vc);
  for (int64_t j = 0; j < cnt; ++j) {
    const float* vj = v + (lo + j) * hd;
    const __m512 p = _mm512_set1_ps(scores[j]);
    for (int c = 0; c < NC; ++c) reg[c] = _mm512_fmadd_ps(p, _mm512_loadu_ps(vj + 16 * c), reg[c]);
  }
  for (int c = 0; c < NC; ++c) _mm512_storeu_ps(acc + 16 * c, reg[c]);
  l += _mm512_reduce_add_ps(_mm512_maskz_mov_ps(live, e));
}

using RowTileFn = void (*)(const float*, const float*, const float*, int64_t, int64_t, float&,
                           float&, float*, float*);

// The register-blocked kernel for this head_dim, or null (then the VecOps path runs).
RowTileFn row_tile_for(int64_t hd) {
  switch (hd) {
    case 48:
      return row_tile_avx512<3>;
    case 64:
      return row_tile_avx512<4>;
    case 80:
      return row_tile_avx512<5>;
    case 96:
      return row_tile_avx512<6>;
    case 128:
      return row_tile_avx512<8>;
    case 256:
      return row_tile_avx512<16>;
    default:
      return nullptr;
  }
}

RowTileFn use_avx512_tiles(const VecOps& vec, int64_t hd) {
  static const bool cpu = __builtin_cpu_supports("avx512f");
  if (!cpu || &vec != &vec_ops() || std::string_view(vec.name) != "avx512") return nullptr;
  return row_tile_for(hd);
}

// Accumulates query rows (t, r) of item w over its tokens into p. q_rows: [rows][hd], prescaled.
void run_item(const AttentionShape& s, const PagedKv& kv, const WorkItem& w, int64_t first_pos,
              const float* q_rows, Partial& p, std::vector<float>& ktile, std::vector<float>& vtile,
              std::vector<float>& scores, const VecOps& vec) {
  const int64_t hd = s.head_dim, n_rep = s.heads / s.kv_heads, bs = kv.block_size;
  const int64_t rows = (w.t1 - w.t0) * n_rep;
  const RowTileFn tiles = use_avx512_tiles(vec, hd);
  p.reset(rows, hd);
  for (int64_t b = w.j0 / bs; b * bs < w.j1; ++b) {
    const int64_t lo_tok = std::max(b * bs, w.j0), hi_tok = std::min(b * bs + bs, w.j1);
    const int64_t count = hi_tok - lo_tok;
    const std::byte* base = kv.blocks[b] + static_cast<size_t>(lo_tok - b * bs) * kv.vector_bytes;
    // Blocks of one KV head are a block apart in memory, which hardware prefetchers do not
    // follow: fetch the next block's K and V runs while this one is computed.
    if ((b + 1) * bs < w.j1) {
      const std::byte* next = kv.blocks[b + 1];
      const size_t run = static_cast<size_t>(bs) * kv.vector_bytes;
      for (size_t off = 0; off < run; off += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(next + kv.k_offset[w.g] + off), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(next + kv.v_offset[w.g] + off), _MM_HINT_T0);
      }
    }
    decode_kv_vectors(kv.dtype, base + kv.k_offset[w.g], count, hd, kv.vector_bytes, ktile.data());
    decode_kv_vectors(kv.dtype, base + kv.v_offset[w.g], count, hd, kv.vector_bytes, vtile.data());
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t qpos = first_pos + w.t0 + row / n_rep;
      const int64_t hi = std::min(hi_tok, qpos + 1);
      const int64_t lo = s.window > 0 ? std::max(lo_tok, qpos - s.window + 1) : lo_tok;
      if (lo >= hi) continue;
      const float* qr = q_rows + row * hd;
      float* acc = p.acc.data() + row * hd;
      if (tiles) {
        for (int64_t a = lo; a < hi; a += 16)  // the kernel takes at most 16 tokens at a time
          tiles(qr, ktile.data(), vtile.data(), a - lo_tok, std::min(hi, a + 16) - lo_tok, p.m[row],
                p.l[row], acc, scores.data());
        continue;
      }
      const int64_t cnt = hi - lo;
      float mx = p.m[row];
      for (int64_t j = lo; j < hi; ++j) {
        scores[j - lo] = vec.dot(qr, ktile.data() + (j - lo_tok) * hd, hd);
        mx = std::max(mx, scores[j - lo]);
      }
      if (mx > p.m[row]) {
        const float corr = std::exp(p.m[row] - mx);  // 0 on the first block (m = -inf)
        p.l[row] *= corr;
        vec.scale(corr, acc, hd);
        p.m[row] = mx;
      }
      for (int64_t j = 0; j < cnt; ++j) scores[j] -= mx;
      vec.exp_nonpos(scores.data(), cnt);
      for (int64_t j = 0; j < cnt; ++j) {
        p.l[row] += scores[j];
        vec.axpy(scores[j], vtile.data() + (lo + j - lo_tok) * hd, acc, hd);
      }
    }
  }
}

}  // namespace

void paged_attention(const AttentionShape& s, const PagedKv& kv, const float* q, int64_t n_q,
                     int64_t first_pos, float* out, const VecOps& vec) {
  const int64_t hd = s.head_dim, n_rep = s.heads / s.kv_heads, bs = kv.block_size;
  const int threads = omp_get_max_threads();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // Work items: (KV head, query tile, context split). Decode of one token splits its context
  // so that every thread has work even with few KV heads (MQA).
  std::vector<WorkItem> items;
  std::vector<int64_t> group_first;  // first item of each (g, tile); splits follow it
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
      }
    }
  }
  group_first.push_back(static_cast<int64_t>(items.size()));
  std::vector<Partial> partials(items.size());

#pragma omp parallel
  {
    std::vector<float> q_rows, ktile(static_cast<size_t>(bs * hd)), vtile(ktile.size()),
        scores(static_cast<size_t>(bs));
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
      run_item(s, kv, w, first_pos, q_rows.data(), partials[i], ktile, vtile, scores, vec);
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
      decode_kv_vectors(kv.dtype, base + kv.k_offset[g], 1, hd, kv.vector_bytes,
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

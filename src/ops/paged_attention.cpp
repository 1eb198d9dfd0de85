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

// Where a row kernel reads token j's 16-value chunk c of K or V, and the token's scale.
// F32Tile: a tile already widened to f32. Stored<T>: the cache's own bytes, widened in the
// kernel (used when one query row reads a block, so a tile would be written and read once).
struct F32Tile {
  const float* base;
  int64_t hd;
  static F32Tile from(const void* p) { return *static_cast<const F32Tile*>(p); }
  __attribute__((target("avx512f"), always_inline)) __m512 load(int64_t j, int c) const {
    return _mm512_loadu_ps(base + j * hd + 16 * c);
  }
  float scale(int64_t) const { return 1.0f; }
};

struct StoredRun {
  const std::byte* base;  // token 0 of the run
  size_t stride;          // vector bytes
};

template <KvDtype T>
struct Stored {
  const std::byte* base;
  size_t stride;
  static Stored from(const void* p) {
    const auto* r = static_cast<const StoredRun*>(p);
    return {r->base, r->stride};
  }
  __attribute__((target("avx512f,avx512bw,avx2,f16c"), always_inline)) __m512 load(int64_t j,
                                                                                   int c) const {
    const std::byte* p = base + static_cast<size_t>(j) * stride;
    if constexpr (T == KvDtype::kF16) {
      return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p) + c));
    } else if constexpr (T == KvDtype::kBF16) {
      const __m512i w =
          _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p) + c));
      return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    } else if constexpr (T == KvDtype::kF8E5M2) {
      const __m256i b =
          _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * c)));
      return _mm512_cvtph_ps(_mm256_slli_epi16(b, 8));
    } else if constexpr (T == KvDtype::kF8E4M3) {  // 2^-8 of the value; scale() restores it
      const __m256i b =
          _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * c)));
      const __m256i h =
          _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(b, _mm256_set1_epi16(0x80)), 8),
                          _mm256_slli_epi16(_mm256_and_si256(b, _mm256_set1_epi16(0x7f)), 7));
      return _mm512_cvtph_ps(h);
    } else {  // int8: integers; scale() is the vector's f32 scale
      return _mm512_cvtepi32_ps(
          _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 4 + 16 * c))));
    }
  }
  float scale(int64_t j) const {
    if constexpr (T == KvDtype::kF8E4M3) return 256.0f;
    if constexpr (T == KvDtype::kInt8) {
      float sc;
      std::memcpy(&sc, base + static_cast<size_t>(j) * stride, 4);
      return sc;
    }
    return 1.0f;
  }
};

// Online-softmax update of one query row over tokens [lo, hi), hi - lo <= 16, written for
// AVX-512 with the row's query and accumulator held in NC registers each (head_dim = 16 * NC,
// a compile-time count so nothing spills).
template <int NC, class KL, class VL>
__attribute__((target("avx512f,avx512bw,avx2,f16c"))) void row_tile_avx512(
    const float* qr, const KL& k, const VL& v, int64_t lo, int64_t hi, float& m, float& l,
    float* acc, float* scores) {
  __m512 reg[NC];
  for (int c = 0; c < NC; ++c) reg[c] = _mm512_loadu_ps(qr + 16 * c);
  float mx = m;
  for (int64_t j = lo; j < hi; ++j) {
    __m512 s0 = _mm512_mul_ps(reg[0], k.load(j, 0));
    __m512 s1 = _mm512_setzero_ps();
    for (int c = 1; c < NC; ++c) {
      if (c % 2)
        s1 = _mm512_fmadd_ps(reg[c], k.load(j, c), s1);
      else
        s0 = _mm512_fmadd_ps(reg[c], k.load(j, c), s0);
    }
    const float sc = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) * k.scale(j);
    scores[j - lo] = sc;
    mx = std::max(mx, sc);
  }
  float corr = 1.0f;
  if (mx > m) {
    corr = std::exp(m - mx);  // 0 on the first tile (m = -inf)
    l *= corr;
    m = mx;
  }
  const int64_t cnt = hi - lo;  // <= 16
  const __mmask16 live = static_cast<__mmask16>((1u << cnt) - 1);
  const __m512 e =
      exp_nonpos_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, scores), _mm512_set1_ps(mx)));
  _mm512_mask_storeu_ps(scores, live, e);
  const __m512 vc = _mm512_set1_ps(corr);
  for (int c = 0; c < NC; ++c) reg[c] = _mm512_mul_ps(_mm512_loadu_ps(acc + 16 * c), vc);
  for (int64_t j = 0; j < cnt; ++j) {
    const __m512 p = _mm512_set1_ps(scores[j] * v.scale(lo + j));
    for (int c = 0; c < NC; ++c) reg[c] = _mm512_fmadd_ps(p, v.load(lo + j, c), reg[c]);
  }
  for (int c = 0; c < NC; ++c) _mm512_storeu_ps(acc + 16 * c, reg[c]);
  l += _mm512_reduce_add_ps(_mm512_maskz_mov_ps(live, e));
}

// One row over tokens [lo, hi) of a tile (f32) or of the stored runs (fused), in chunks of 16.
using RowFn = void (*)(const float* qr, const void* k, const void* v, int64_t lo, int64_t hi,
                       float& m, float& l, float* acc, float* scores);

template <int NC, class L>
void row_chunks(const float* qr, const void* k, const void* v, int64_t lo, int64_t hi, float& m,
                float& l, float* acc, float* scores) {
  for (int64_t a = lo; a < hi; a += 16)
    row_tile_avx512<NC>(qr, L::from(k), L::from(v), a, std::min(hi, a + 16), m, l, acc, scores);
}

template <class L>
RowFn row_fn_for(int64_t hd) {
  switch (hd) {
    case 48:
      return row_chunks<3, L>;
    case 64:
      return row_chunks<4, L>;
    case 80:
      return row_chunks<5, L>;
    case 96:
      return row_chunks<6, L>;
    case 128:
      return row_chunks<8, L>;
    case 256:
      return row_chunks<16, L>;
    default:
      return nullptr;
  }
}

bool avx512_rows(const VecOps& vec) {
  static const bool cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("f16c");
  return cpu && &vec == &vec_ops() && std::string_view(vec.name) == "avx512";
}

// The fused kernel for reading the cache's bytes directly, or null.
RowFn fused_row_fn(KvDtype t, int64_t hd) {
  switch (t) {
    case KvDtype::kF16:
      return row_fn_for<Stored<KvDtype::kF16>>(hd);
    case KvDtype::kBF16:
      return row_fn_for<Stored<KvDtype::kBF16>>(hd);
    case KvDtype::kF8E4M3:
      return row_fn_for<Stored<KvDtype::kF8E4M3>>(hd);
    case KvDtype::kF8E5M2:
      return row_fn_for<Stored<KvDtype::kF8E5M2>>(hd);
    case KvDtype::kInt8:
      return row_fn_for<Stored<KvDtype::kInt8>>(hd);
    default:
      return nullptr;
  }
}

// Accumulates query rows (t, r) of item w over its tokens into p. q_rows: [rows][hd], prescaled.
void run_item(const AttentionShape& s, const PagedKv& kv, const WorkItem& w, int64_t first_pos,
              const float* q_rows, Partial& p, std::vector<float>& ktile, std::vector<float>& vtile,
              std::vector<float>& scores, const VecOps& vec) {
  const int64_t hd = s.head_dim, n_rep = s.heads / s.kv_heads, bs = kv.block_size;
  const int64_t rows = (w.t1 - w.t0) * n_rep;
  const bool simd_rows = avx512_rows(vec);
  const RowFn tile_rows = simd_rows ? row_fn_for<F32Tile>(hd) : nullptr;
  // One query row per block (MHA decode): read the stored bytes directly instead of widening
  // a tile that would be read once.
  const RowFn fused = simd_rows && rows == 1 ? fused_row_fn(kv.dtype, hd) : nullptr;
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
    if (fused) {
      const int64_t qpos = first_pos + w.t0;
      const int64_t hi = std::min(hi_tok, qpos + 1);
      const int64_t lo = s.window > 0 ? std::max(lo_tok, qpos - s.window + 1) : lo_tok;
      if (lo >= hi) continue;
      const StoredRun k{base + kv.k_offset[w.g], kv.vector_bytes};
      const StoredRun v{base + kv.v_offset[w.g], kv.vector_bytes};
      fused(q_rows, &k, &v, lo - lo_tok, hi - lo_tok, p.m[0], p.l[0], p.acc.data(), scores.data());
      continue;
    }
    decode_kv_vectors(kv.dtype, base + kv.k_offset[w.g], count, hd, kv.vector_bytes, ktile.data());
    decode_kv_vectors(kv.dtype, base + kv.v_offset[w.g], count, hd, kv.vector_bytes, vtile.data());
    const F32Tile kt{ktile.data(), hd}, vt{vtile.data(), hd};
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t qpos = first_pos + w.t0 + row / n_rep;
      const int64_t hi = std::min(hi_tok, qpos + 1);
      const int64_t lo = s.window > 0 ? std::max(lo_tok, qpos - s.window + 1) : lo_tok;
      if (lo >= hi) continue;
      const float* qr = q_rows + row * hd;
      float* acc = p.acc.data() + row * hd;
      if (tile_rows) {
        tile_rows(qr, &kt, &vt, lo - lo_tok, hi - lo_tok, p.m[row], p.l[row], acc, scores.data());
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

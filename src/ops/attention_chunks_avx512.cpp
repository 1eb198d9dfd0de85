#include "ops/attention_chunks_avx512.h"

// GCC 12 AVX-512 headers: see vec.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/exp_simd.h"
#include "ops/fp8_simd.h"

namespace gqa::ops {
namespace {

#define GQA_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,f16c")))
#define GQA_AVX512_INLINE \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,f16c"), always_inline)) inline

// 16 keys' values of one dimension from a dimension-major K run, widened to f32 (fp8-e4m3:
// 2^-8 of the value; the kernel's scale restores it). Lanes outside `m` read 0. (int8 keys are
// scored as integers: rows_chunks.)
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
  } else {
    static_assert(T == KvDtype::kF8E4M3);
    return _mm512_cvtph_ps(e4m3_as_f16_x16(_mm_maskz_loadu_epi8(m, p)));
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
GQA_AVX512 void rows_chunks(const float* q, const QueryInt8& q8, const Chunk* ch, int64_t bs,
                            size_t vector_bytes, float* m, float* l, float* acc,
                            const PrefetchPlan& plan_k, const PrefetchPlan& plan_v) {
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
    kcol[k] = ch[k].k_run + scale_bytes +
              static_cast<size_t>(ch[k].s0) * (T == KvDtype::kInt8 ? 4 : kEs);  // int8: quads
  }

  __m512 s[NK][R][kP];
  PrefetchCursor pf_k(plan_k), pf_v(plan_v);
  if constexpr (T == KvDtype::kInt8) {
    // Integer scores: each 32-bit lane of a load is one token's four dimensions; VNNI takes
    // them as unsigned (x ^ 0x80 = x + 128) against the row's four signed query integers, so a
    // row's sum is its dot product + 128 * (sum of its integers).
    constexpr int kQuads = kHd / 4, kPq = kQuads % kP == 0 ? kP : 4;
    __m512i si[NK][R][kPq];
#pragma GCC unroll 2
    for (int k = 0; k < NK; ++k)
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int p = 0; p < kPq; ++p) si[k][r][p] = _mm512_setzero_si512();
    const int pf_k_lines = pf_k.per_iteration(kQuads / kPq);
    const size_t quad_stride = 4 * static_cast<size_t>(bs);
    const __m512i flip = _mm512_set1_epi32(static_cast<int>(0x80808080u));
    for (int dq = 0; dq < kQuads; dq += kPq) {
      pf_k.issue(pf_k_lines);
#pragma GCC unroll 8
      for (int p = 0; p < kPq; ++p) {
#pragma GCC unroll 2
        for (int k = 0; k < NK; ++k) {
          const __m512i kd = _mm512_xor_si512(
              _mm512_maskz_loadu_epi32(any[k], kcol[k] + static_cast<size_t>(dq + p) * quad_stride),
              flip);
#pragma GCC unroll 8
          for (int r = 0; r < R; ++r) {
            int32_t qw;
            std::memcpy(&qw, q8.q + r * kHd + 4 * (dq + p), 4);
            si[k][r][p] = _mm512_dpbusd_epi32(si[k][r][p], kd, _mm512_set1_epi32(qw));
          }
        }
      }
    }
#pragma GCC unroll 2
    for (int k = 0; k < NK; ++k)
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        __m512i t = _mm512_set1_epi32(-128 * q8.sum[r]);
#pragma GCC unroll 8
        for (int p = 0; p < kPq; ++p) t = _mm512_add_epi32(t, si[k][r][p]);
        s[k][r][0] = _mm512_mul_ps(_mm512_cvtepi32_ps(t), _mm512_set1_ps(q8.scale[r]));
      }
  } else {
#pragma GCC unroll 2
    for (int k = 0; k < NK; ++k)
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int p = 0; p < kP; ++p) s[k][r][p] = _mm512_setzero_ps();
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
  }

  // Softmax: the new running max per row, the correction of the old sums, exp of the scores.
  __m512 sc[NK][R];
  // One horizontal max and one sum per row for all NK chunks.
  alignas(64) float row_max[16], m_new[16], corr[16], row_sum[16] = {};
  __m512 lane_max[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) lane_max[r] = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 2
  for (int k = 0; k < NK; ++k) {
    __m512 kscale = _mm512_set1_ps(T == KvDtype::kF8E4M3 ? 256.0f : 1.0f);
    if constexpr (T == KvDtype::kInt8)
      kscale = _mm512_maskz_loadu_ps(any[k], ch[k].k_run + 4 * ch[k].s0);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      sc[k][r] = s[k][r][0];
      if constexpr (T != KvDtype::kInt8) {
#pragma GCC unroll 8
        for (int p = 1; p < kP; ++p) sc[k][r] = _mm512_add_ps(sc[k][r], s[k][r][p]);
      }
      sc[k][r] = _mm512_mul_ps(sc[k][r], kscale);
      lane_max[r] = _mm512_mask_max_ps(lane_max[r], ch[k].live[r], lane_max[r], sc[k][r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) row_max[r] = _mm512_reduce_max_ps(lane_max[r]);  // -inf: none live
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
  __m512 lane_sum[R];
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
      lane_sum[r] = k == 0 ? e : _mm512_add_ps(lane_sum[r], e);
      _mm512_store_ps(pr[k][r], _mm512_mul_ps(e, vscale));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) row_sum[r] = _mm512_reduce_add_ps(lane_sum[r]);
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

}  // namespace

ChunkFns chunk_fns(KvDtype t, int64_t hd) {
  static const bool cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c");
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
  if (!cpu || (t == KvDtype::kInt8 && !vnni)) return {};
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

}  // namespace gqa::ops

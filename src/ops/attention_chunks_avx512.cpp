#include "ops/attention_chunks_avx512.h"

#include "core/cpu_features.h"

#if GQA_X86
// GCC 12 AVX-512 headers: see vec.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "ops/exp_simd.h"
#include "ops/fp8_simd.h"
#include "ops/kv_quant.h"

namespace gqa::ops {
namespace {

#define GQA_TARGETS "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,f16c"
#define GQA_AVX512 __attribute__((target(GQA_TARGETS)))
#define GQA_AVX512_INLINE __attribute__((target(GQA_TARGETS), always_inline)) inline

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

// fp8 -> f32, 64 codes at a time (AVX512-VBMI), for whole 16-token chunks of 4 key dimensions and
// for value vectors: each magnitude's bf16 (exact: fp8 has at most 3 mantissa bits) looked up as
// a low and a high byte (vpermi2b: 128-entry tables in two registers), the sign OR-ed into the
// high byte, the bytes paired into words, and the words widened to f32 by a shift (even words)
// or a mask (odd words). About 2.5 instructions per 16 values against 5 for the f16 route
// (sign-extend, shift, and, then vcvtph2ps's two). The codes are permuted first so that the
// four f32 vectors come out as elements 0-15, 16-31, 32-47 and 48-63.
struct Fp8Lookup {
  __m512i lo0, lo1, hi0, hi1, order;
};

template <KvDtype T>
const uint8_t* fp8_lookup_bytes() {  // [320]: low bytes, high bytes of magnitudes 0..127; order
  alignas(64) static const auto table = [] {
    std::array<uint8_t, 320> t{};
    for (int m = 0; m < 128; ++m) {
      const float f = T == KvDtype::kF8E4M3 ? e4m3_to_f32(static_cast<uint8_t>(m))
                                            : e5m2_to_f32(static_cast<uint8_t>(m));
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      t[m] = static_cast<uint8_t>(bits >> 16);
      t[128 + m] = static_cast<uint8_t>(bits >> 24);
    }
    // Byte p of the permuted codes feeds output (v, j): words 2j and 2j + 1 of the low
    // (unpacklo) or high (unpackhi) pairing, which take bytes 16 (j / 4) + 2 (j % 4) (+ 1, + 8).
    for (int j = 0; j < 16; ++j) {
      const int p = 16 * (j / 4) + 2 * (j % 4);
      t[256 + p] = static_cast<uint8_t>(j);
      t[256 + p + 1] = static_cast<uint8_t>(16 + j);
      t[256 + p + 8] = static_cast<uint8_t>(32 + j);
      t[256 + p + 9] = static_cast<uint8_t>(48 + j);
    }
    return t;
  }();
  return table.data();
}

template <KvDtype T>
GQA_AVX512_INLINE Fp8Lookup fp8_lookup() {
  const uint8_t* t = fp8_lookup_bytes<T>();
  return {_mm512_loadu_si512(t), _mm512_loadu_si512(t + 64), _mm512_loadu_si512(t + 128),
          _mm512_loadu_si512(t + 192), _mm512_loadu_si512(t + 256)};
}

GQA_AVX512_INLINE void fp8_to_f32_x64(__m512i codes, const Fp8Lookup& t, __m512 out[4]) {
  const __m512i c = _mm512_permutexvar_epi8(t.order, codes);
  const __m512i lo = _mm512_permutex2var_epi8(t.lo0, c, t.lo1);
  const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(t.hi0, c, t.hi1), c,
                                               _mm512_set1_epi8(static_cast<char>(0x80)),
                                               0xF8);  // hi | (c & 0x80)
  const __m512i w1 = _mm512_unpacklo_epi8(lo, hi), w2 = _mm512_unpackhi_epi8(lo, hi);
  const __m512i odd = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  out[0] = _mm512_castsi512_ps(_mm512_slli_epi32(w1, 16));
  out[1] = _mm512_castsi512_ps(_mm512_and_si512(w1, odd));
  out[2] = _mm512_castsi512_ps(_mm512_slli_epi32(w2, 16));
  out[3] = _mm512_castsi512_ps(_mm512_and_si512(w2, odd));
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
//           8 or more chains keep the FMA pipes full); int8: four dimensions per load into
//           VNNI integer dot products; fp8 in blocks of 16: four dimensions per lookup;
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
  constexpr bool kFp8 = T == KvDtype::kF8E4M3 || T == KvDtype::kF8E5M2;
  // fp8 by lookup: keys when a block is one chunk wide (four dimensions contiguous), values when
  // the accumulators of a pass cover whole groups of 64 (else the f16 route, e4m3 at 2^-8).
  const bool k_lookup = kFp8 && bs == 16;
  constexpr bool kVLookup = kFp8 && kCg % 4 == 0 && NC % 4 == 0;
  __mmask16 any[NK];
  const std::byte* kcol[NK];
  for (int k = 0; k < NK; ++k) {
    any[k] = 0;
    for (int r = 0; r < R; ++r) any[k] |= ch[k].live[r];
    kcol[k] = ch[k].k_run + scale_bytes +
              static_cast<size_t>(ch[k].s0) * (T == KvDtype::kInt8 ? 4 : kEs);  // int8: quads
  }

  __m512 s[NK][R][kP];
#pragma GCC unroll 2
  for (int k = 0; k < NK; ++k)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int p = 0; p < kP; ++p) s[k][r][p] = _mm512_setzero_ps();
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
  } else if (k_lookup) {
    // fp8 keys in blocks of 16 tokens: four dimensions of a chunk are 64 contiguous codes.
    const Fp8Lookup lut = fp8_lookup<T>();
    __mmask64 any4[NK];
    for (int k = 0; k < NK; ++k) any4[k] = _cvtu64_mask64(uint64_t{any[k]} * 0x0001000100010001ull);
    constexpr int kStep = kP > 4 ? kP : 4;
    const int pf_k_lines = pf_k.per_iteration(kHd / kStep);
    for (int d = 0; d < kHd; d += kStep) {
      pf_k.issue(pf_k_lines);
#pragma GCC unroll 2
      for (int g = 0; g < kStep; g += 4) {
#pragma GCC unroll 2
        for (int k = 0; k < NK; ++k) {
          __m512 kd[4];
          fp8_to_f32_x64(
              _mm512_maskz_loadu_epi8(any4[k], kcol[k] + static_cast<size_t>(d + g) * 16), lut, kd);
#pragma GCC unroll 4
          for (int i = 0; i < 4; ++i)
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r)
              s[k][r][(g + i) % kP] = _mm512_fmadd_ps(_mm512_set1_ps(q[r * kHd + d + g + i]), kd[i],
                                                      s[k][r][(g + i) % kP]);
        }
      }
    }
  } else {
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
    __m512 kscale = _mm512_set1_ps(T == KvDtype::kF8E4M3 && !k_lookup ? 256.0f : 1.0f);
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
    __m512 vscale = _mm512_set1_ps(T == KvDtype::kF8E4M3 && !kVLookup ? 256.0f : 1.0f);
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
  [[maybe_unused]] Fp8Lookup lut_v;
  if constexpr (kVLookup) lut_v = fp8_lookup<T>();
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
        if constexpr (kVLookup) {
#pragma GCC unroll 2
          for (int c = 0; c < kCg; c += 4) {
            if (c0 + c >= NC) continue;  // head_dim 64 with 8 accumulators per row
            __m512 x[4];
            fp8_to_f32_x64(_mm512_loadu_si512(vj + 16 * (c0 + c)), lut_v, x);
#pragma GCC unroll 4
            for (int i = 0; i < 4; ++i)
#pragma GCC unroll 8
              for (int r = 0; r < R; ++r)
                a[r][c + i] = _mm512_fmadd_ps(_mm512_set1_ps(pr[k][r][j]), x[i], a[r][c + i]);
          }
        } else {
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
  const CpuFeatures& cpu = cpu_features();
  if (!cpu.at_least(Isa::kAvx512) || (t == KvDtype::kInt8 && !cpu.avx512vnni)) return {};
  if (!cpu.avx512vbmi && (t == KvDtype::kF8E4M3 || t == KvDtype::kF8E5M2)) return {};
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

#else  // not x86: no chunk kernels, paged attention takes the tile path

namespace gqa::ops {
ChunkFns chunk_fns(KvDtype, int64_t) {
  return {};
}
}  // namespace gqa::ops

#endif  // GQA_X86

#include "ops/kv_quant.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/float_codec.h"
#include "core/half.h"
#include "ops/fp8_simd.h"

#if GQA_X86
// GCC 12 AVX-512 headers: see vec.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#endif

namespace gqa::ops {
namespace {

// A small float with `man` mantissa bits and exponent bias `bias`, whose largest finite code is
// `max_code`: round to nearest even, saturate at the largest finite value. NaN -> `nan_code`.
uint8_t encode_minifloat(float x, int man, int bias, uint8_t max_code, uint8_t nan_code) {
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  if (std::isnan(x)) return sign | nan_code;
  double a = std::fabs(static_cast<double>(x));
  const int min_exp = 1 - bias;  // exponent of the smallest normal
  // Largest finite value.
  const int max_e = (max_code >> man) - bias;
  const double max_val = std::ldexp(1.0 + (max_code & ((1 << man) - 1)) / double(1 << man), max_e);
  if (a >= max_val) return sign | max_code;
  int e = 0;
  std::frexp(a, &e);                         // a = f * 2^e, f in [0.5, 1)
  e -= 1;                                    // a = 1.xxx * 2^e
  if (a == 0.0 || e < min_exp) e = min_exp;  // subnormal: fixed exponent, no implicit 1
  const double ulp = std::ldexp(1.0, e - man);
  double q = a / ulp;            // exact in double
  double r = std::nearbyint(q);  // ties to even (default rounding mode)
  auto code_mant = static_cast<int64_t>(r);
  // code_mant counts ulps: for normals it includes the implicit 1 (2^man .. 2^(man+1)).
  int biased = e + bias;
  if (code_mant >= (int64_t{2} << man)) {  // rounded up to the next binade
    code_mant >>= 1;
    ++biased;
  }
  if (code_mant < (int64_t{1} << man)) biased = 0;  // subnormal (or zero)
  const uint8_t code = static_cast<uint8_t>((biased << man) | (code_mant & ((1 << man) - 1)));
  return sign | (code > max_code ? max_code : code);
}

float decode_minifloat(uint8_t v, int man, int bias) {
  const int exp_bits = 7 - man;
  const int e = (v >> man) & ((1 << exp_bits) - 1);
  const int m = v & ((1 << man) - 1);
  const double mag =
      e == 0 ? std::ldexp(m, 1 - bias - man) : std::ldexp((1 << man) + m, e - bias - man);
  return static_cast<float>((v & 0x80) ? -mag : mag);
}

enum class FastDecode { kNone, kAvx2, kAvx512 };

#if GQA_X86
// AVX2 + F16C widening of stored vectors, 8 values at a time (the tail goes through the scalar
// code). fp8 codes become f16 bit patterns (ops/fp8_simd.h).
__attribute__((target("avx2,f16c"))) int64_t decode_fast(KvDtype t, const std::byte* in, int64_t hd,
                                                         float* out) {
  int64_t i = 0;
  switch (t) {
    case KvDtype::kF16:
      for (; i + 8 <= hd; i += 8)
        _mm256_storeu_ps(
            out + i,
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i))));
      break;
    case KvDtype::kBF16:
      for (; i + 8 <= hd; i += 8) {
        const __m256i w =
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i)));
        _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
      }
      break;
    case KvDtype::kF8E5M2:
      for (; i + 8 <= hd; i += 8) {
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(e5m2_as_f16_x8(
                                      _mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + i)))));
      }
      break;
    case KvDtype::kF8E4M3: {
      const __m256 scale = _mm256_set1_ps(256.0f);
      for (; i + 8 <= hd; i += 8) {
        const __m128i h = e4m3_as_f16_x8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + i)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtph_ps(h), scale));
      }
      break;
    }
    case KvDtype::kInt8: {
      float s;
      std::memcpy(&s, in, 4);
      const __m256 scale = _mm256_set1_ps(s);
      for (; i + 8 <= hd; i += 8) {
        const __m256i w =
            _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + 4 + i)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(w), scale));
      }
      break;
    }
    default:
      break;
  }
  return i;
}

// The same 16 values at a time with AVX-512 (F and BW; F16C for the half conversions).
__attribute__((target("avx512f,avx512bw,avx2,f16c"))) int64_t decode_fast512(KvDtype t,
                                                                             const std::byte* in,
                                                                             int64_t hd,
                                                                             float* out) {
  int64_t i = 0;
  const auto* p = reinterpret_cast<const __m256i*>(in);
  switch (t) {
    case KvDtype::kF16:
      for (; i + 16 <= hd; i += 16)
        _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(p + i / 16)));
      break;
    case KvDtype::kBF16:
      for (; i + 16 <= hd; i += 16) {
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(p + i / 16));
        _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
      }
      break;
    case KvDtype::kF8E5M2:
      for (; i + 16 <= hd; i += 16) {
        _mm512_storeu_ps(out + i, _mm512_cvtph_ps(e5m2_as_f16_x16(
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)))));
      }
      break;
    case KvDtype::kF8E4M3: {
      const __m512 scale = _mm512_set1_ps(256.0f);
      for (; i + 16 <= hd; i += 16) {
        const __m256i h =
            e4m3_as_f16_x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtph_ps(h), scale));
      }
      break;
    }
    case KvDtype::kInt8: {
      float sc;
      std::memcpy(&sc, in, 4);
      const __m512 scale = _mm512_set1_ps(sc);
      for (; i + 16 <= hd; i += 16) {
        const __m512i w =
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 4 + i)));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtepi32_ps(w), scale));
      }
      break;
    }
    default:
      break;
  }
  return i;
}

FastDecode fast_decode_level() {
  static const FastDecode level = cpu_features().at_least(Isa::kAvx512) ? FastDecode::kAvx512
                                  : cpu_features().at_least(Isa::kAvx2) ? FastDecode::kAvx2
                                                                        : FastDecode::kNone;
  return level;
}
#else
FastDecode fast_decode_level() {
  return FastDecode::kNone;
}
int64_t decode_fast(KvDtype, const std::byte*, int64_t, float*) {
  return 0;
}
int64_t decode_fast512(KvDtype, const std::byte*, int64_t, float*) {
  return 0;
}
#endif  // GQA_X86

// One stored vector's bytes for gathering a key from (or scattering it to) its column: on the
// stack up to head_dim 512 in every dtype, so storing a key allocates nothing.
class VectorBytes {
 public:
  explicit VectorBytes(size_t n) : large_(n > small_.size() ? n : 0), size_(n) {}
  std::byte* data() { return size_ > small_.size() ? large_.data() : small_.data(); }
  size_t size() const { return size_; }

 private:
  std::array<std::byte, 2064> small_;
  std::vector<std::byte> large_;
  size_t size_;
};

constexpr float kF16Max = 65504.0f;
constexpr float kBF16Max = 3.3895313892515355e38f;

}  // namespace

uint8_t f32_to_e4m3(float x) {
  return encode_minifloat(x, 3, 7, 0x7e, 0x7f);
}
float e4m3_to_f32(uint8_t v) {
  if ((v & 0x7f) == 0x7f) return NAN;
  return decode_minifloat(v, 3, 7);
}
uint8_t f32_to_e5m2(float x) {
  return encode_minifloat(x, 2, 15, 0x7b, 0x7e);
}
float e5m2_to_f32(uint8_t v) {
  if ((v & 0x7f) == 0x7c) return (v & 0x80) ? -INFINITY : INFINITY;
  if ((v & 0x7f) > 0x7c) return NAN;
  return decode_minifloat(v, 2, 15);
}

void check_cache_dtype(KvDtype t) {
  if (t == KvDtype::kQ8_0 || t == KvDtype::kQ4_0)
    fail(ErrorKind::kUnsupported, "KV dtype " + std::string(kv_dtype_name(t)) +
                                      " is planner-only; the cache stores f32, f16, bf16, "
                                      "fp8-e4m3, fp8-e5m2 and int8");
}

void encode_kv_vector(KvDtype t, const float* x, int64_t hd, std::byte* out) {
  switch (t) {
    case KvDtype::kF32:
      std::memcpy(out, x, static_cast<size_t>(hd) * 4);
      return;
    case KvDtype::kF16:
      for (int64_t i = 0; i < hd; ++i) {
        const uint16_t h =
            f32_to_f16(std::isnan(x[i]) ? x[i] : std::clamp(x[i], -kF16Max, kF16Max));
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case KvDtype::kBF16:
      for (int64_t i = 0; i < hd; ++i) {
        const uint16_t h =
            f32_to_bf16(std::isnan(x[i]) ? x[i] : std::clamp(x[i], -kBF16Max, kBF16Max));
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case KvDtype::kF8E4M3:
      for (int64_t i = 0; i < hd; ++i) out[i] = static_cast<std::byte>(f32_to_e4m3(x[i]));
      return;
    case KvDtype::kF8E5M2:
      for (int64_t i = 0; i < hd; ++i) out[i] = static_cast<std::byte>(f32_to_e5m2(x[i]));
      return;
    case KvDtype::kInt8: {
      float amax = 0.0f;
      for (int64_t i = 0; i < hd; ++i) amax = std::max(amax, std::fabs(x[i]));
      const float scale = amax / 127.0f;
      std::memcpy(out, &scale, 4);
      const float inv = scale > 0 ? 1.0f / scale : 0.0f;
      for (int64_t i = 0; i < hd; ++i) {
        const float q = std::clamp(std::nearbyint(x[i] * inv), -127.0f, 127.0f);
        out[4 + i] = static_cast<std::byte>(static_cast<int8_t>(q));
      }
      return;
    }
    default:
      check_cache_dtype(t);
  }
}

void decode_kv_vectors(KvDtype t, const std::byte* in, int64_t count, int64_t hd, size_t stride,
                       float* out) {
  const FastDecode level = t == KvDtype::kF32 ? FastDecode::kNone : fast_decode_level();
  for (int64_t v = 0; v < count; ++v, in += stride, out += hd) {
    if (level == FastDecode::kAvx512 && decode_fast512(t, in, hd, out) == hd) continue;
    if (level != FastDecode::kNone && decode_fast(t, in, hd, out) == hd) continue;
    switch (t) {
      case KvDtype::kF32:
        decode_to_f32(DType::kF32, in, hd, out);
        break;
      case KvDtype::kF16:
        decode_to_f32(DType::kF16, in, hd, out);
        break;
      case KvDtype::kBF16:
        decode_to_f32(DType::kBF16, in, hd, out);
        break;
      case KvDtype::kF8E4M3:
        for (int64_t i = 0; i < hd; ++i) out[i] = e4m3_to_f32(static_cast<uint8_t>(in[i]));
        break;
      case KvDtype::kF8E5M2:
        for (int64_t i = 0; i < hd; ++i) out[i] = e5m2_to_f32(static_cast<uint8_t>(in[i]));
        break;
      case KvDtype::kInt8: {
        float scale;
        std::memcpy(&scale, in, 4);
        for (int64_t i = 0; i < hd; ++i)
          out[i] = scale * static_cast<float>(static_cast<int8_t>(in[4 + i]));
        break;
      }
      default:
        check_cache_dtype(t);
    }
  }
}

size_t kv_element_bytes(KvDtype t) {
  switch (t) {
    case KvDtype::kF32:
      return 4;
    case KvDtype::kF16:
    case KvDtype::kBF16:
      return 2;
    case KvDtype::kF8E4M3:
    case KvDtype::kF8E5M2:
    case KvDtype::kInt8:
      return 1;
    default:
      check_cache_dtype(t);
      return 0;
  }
}

size_t k_run_scale_bytes(KvDtype t, int64_t block_size) {
  return t == KvDtype::kInt8 ? 4 * static_cast<size_t>(block_size) : 0;
}

size_t k_element_offset(KvDtype t, int64_t hd, int64_t bs, int64_t d, int64_t slot) {
  const size_t es = kv_element_bytes(t), sb = k_run_scale_bytes(t, bs);
  const int64_t quads = t == KvDtype::kInt8 ? hd / 4 * 4 : 0;  // dimensions stored in quads
  if (d < quads) return sb + static_cast<size_t>((d / 4 * bs + slot) * 4 + d % 4);
  return sb + static_cast<size_t>(d * bs + slot) * es;
}

void encode_k_slot(KvDtype t, const float* x, int64_t hd, int64_t bs, int64_t slot,
                   std::byte* k_run) {
  const size_t es = kv_element_bytes(t), sb = k_run_scale_bytes(t, bs);
  VectorBytes buf(static_cast<size_t>(kv_vector_bytes(t, hd)));
  std::byte* vec = buf.data();
  encode_kv_vector(t, x, hd, vec);
  const std::byte* elems = vec + (sb ? 4 : 0);  // past the int8 scale
  if (sb) std::memcpy(k_run + 4 * static_cast<size_t>(slot), vec, 4);
  for (int64_t d = 0; d < hd; ++d)
    std::memcpy(k_run + k_element_offset(t, hd, bs, d, slot), elems + static_cast<size_t>(d) * es,
                es);
}

void decode_k_slots(KvDtype t, const std::byte* k_run, int64_t hd, int64_t bs, int64_t first_slot,
                    int64_t count, float* out) {
  const size_t es = kv_element_bytes(t), sb = k_run_scale_bytes(t, bs);
  VectorBytes vec(static_cast<size_t>(kv_vector_bytes(t, hd)));
  std::byte* elems = vec.data() + (sb ? 4 : 0);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t slot = first_slot + i;
    if (sb) std::memcpy(vec.data(), k_run + 4 * static_cast<size_t>(slot), 4);
    for (int64_t d = 0; d < hd; ++d)
      std::memcpy(elems + static_cast<size_t>(d) * es, k_run + k_element_offset(t, hd, bs, d, slot),
                  es);
    decode_kv_vectors(t, vec.data(), 1, hd, vec.size(), out + i * hd);
  }
}

float round_query_int8(float* q, int64_t hd, int8_t* ints) {
  float amax = 0.0f;
  for (int64_t i = 0; i < hd; ++i) amax = std::max(amax, std::fabs(q[i]));
  const float scale = amax / 127.0f;
  const float inv = scale > 0 ? 1.0f / scale : 0.0f;
  for (int64_t i = 0; i < hd; ++i) {
    const float r = std::clamp(std::nearbyint(q[i] * inv), -127.0f, 127.0f);
    if (ints) ints[i] = static_cast<int8_t>(r);
    q[i] = r * scale;
  }
  return scale;
}

}  // namespace gqa::ops

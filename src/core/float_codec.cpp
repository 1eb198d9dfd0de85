#include "core/float_codec.h"

#include <cstring>
#include <string>

#include "core/error.h"
#include "core/half.h"

namespace gqa {

bool is_float_weight_dtype(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
}

namespace {
[[noreturn]] void unsupported(DType t) {
  fail(ErrorKind::kUnsupported,
       "dtype " + std::string(dtype_name(t)) + " cannot be converted here (f32, f16 and bf16 can)");
}
// dst[i] = widen(16-bit pattern i of src), for bf16 and f16.
template <typename Widen>
void widen_halves(const std::byte* src, size_t count, float* dst, Widen widen) {
  for (size_t i = 0; i < count; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = widen(h);
  }
}

}  // namespace

void decode_to_f32(DType t, const std::byte* src, int64_t n, float* dst) {
  const auto count = static_cast<size_t>(n);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, count * 4);
      return;
    case DType::kBF16:
      widen_halves(src, count, dst, bf16_to_f32);
      return;
    case DType::kF16:
      widen_halves(src, count, dst, f16_to_f32);
      return;
    default:
      unsupported(t);
  }
}

void encode_from_f32(DType t, const float* src, int64_t n, std::byte* dst) {
  const auto count = static_cast<size_t>(n);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, count * 4);
      return;
    case DType::kBF16:
      for (size_t i = 0; i < count; ++i) {
        const uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case DType::kF16:
      for (size_t i = 0; i < count; ++i) {
        const uint16_t h = f32_to_f16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    default:
      unsupported(t);
  }
}

}  // namespace gqa

#include "core/dtype.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "core/error.h"

namespace gqa {
namespace {

struct DTypeInfo {
  DType type;
  int64_t size;
  std::string_view name;
  std::string_view st_name;
};

constexpr std::array<DTypeInfo, 9> kInfo{{
    {DType::kF32, 4, "f32", "F32"},
    {DType::kF16, 2, "f16", "F16"},
    {DType::kBF16, 2, "bf16", "BF16"},
    {DType::kF8E4M3, 1, "fp8-e4m3", "F8_E4M3"},
    {DType::kF8E5M2, 1, "fp8-e5m2", "F8_E5M2"},
    {DType::kI8, 1, "int8", "I8"},
    {DType::kU8, 1, "uint8", "U8"},
    {DType::kI32, 4, "int32", "I32"},
    {DType::kI64, 8, "int64", "I64"},
}};

const DTypeInfo& info(DType t) {
  for (const auto& i : kInfo)
    if (i.type == t) return i;
  fail(ErrorKind::kInvalidArgument, "unknown dtype enum value");
}

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
  return r;
}

}  // namespace

int64_t dtype_size(DType t) {
  return info(t).size;
}
std::string_view dtype_name(DType t) {
  return info(t).name;
}
std::string_view safetensors_name(DType t) {
  return info(t).st_name;
}

DType parse_dtype(std::string_view s) {
  const std::string l = lower(s);
  for (const auto& i : kInfo)
    if (l == i.name || l == lower(i.st_name)) return i.type;
  if (l == "float32" || l == "float") return DType::kF32;
  if (l == "float16" || l == "half" || l == "fp16") return DType::kF16;
  if (l == "bfloat16") return DType::kBF16;
  if (l == "fp8" || l == "float8_e4m3fn" || l == "e4m3") return DType::kF8E4M3;
  if (l == "float8_e5m2" || l == "e5m2") return DType::kF8E5M2;
  if (l == "i8") return DType::kI8;
  fail(ErrorKind::kInvalidArgument, "unknown dtype '" + std::string(s) +
                                        "' (expected f32, f16, bf16, fp8-e4m3, fp8-e5m2, int8)");
}

}  // namespace gqa

namespace gqa {

std::string_view torch_dtype_name(DType t) {
  switch (t) {
    case DType::kF32:
      return "float32";
    case DType::kF16:
      return "float16";
    case DType::kBF16:
      return "bfloat16";
    case DType::kF8E4M3:
      return "float8_e4m3fn";
    case DType::kF8E5M2:
      return "float8_e5m2";
    case DType::kI8:
      return "int8";
    case DType::kU8:
      return "uint8";
    case DType::kI32:
      return "int32";
    case DType::kI64:
      return "int64";
  }
  return "?";
}

}  // namespace gqa

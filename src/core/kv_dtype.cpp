#include "core/kv_dtype.h"

#include <array>
#include <string>

#include "core/checked_math.h"
#include "core/error.h"

namespace gqa {
namespace {

struct KvDtypeInfo {
  KvDtype type;
  std::string_view name;
  int64_t block_values;        // values sharing one scale (1 for plain formats)
  int64_t block_bytes;         // bytes of one such block, scale included
  int64_t vector_scale_bytes;  // extra bytes per head vector (int8's f32 scale)
  std::string_view what;
};

constexpr std::array<KvDtypeInfo, 8> kInfo{{
    {KvDtype::kF32, "f32", 1, 4, 0, "32 bits/value"},
    {KvDtype::kF16, "f16", 1, 2, 0, "16 bits/value"},
    {KvDtype::kBF16, "bf16", 1, 2, 0, "16 bits/value"},
    {KvDtype::kF8E4M3, "fp8-e4m3", 1, 1, 0, "8 bits/value"},
    {KvDtype::kF8E5M2, "fp8-e5m2", 1, 1, 0, "8 bits/value"},
    {KvDtype::kInt8, "int8", 1, 1, 4, "8 bits/value + one f32 scale per token per KV head"},
    {KvDtype::kQ8_0, "q8_0", 32, 34, 0, "8.5 bits/value: blocks of 32 int8 with an f16 scale"},
    {KvDtype::kQ4_0, "q4_0", 32, 18, 0, "4.5 bits/value: blocks of 32 4-bit with an f16 scale"},
}};

const KvDtypeInfo& info(KvDtype t) {
  for (const auto& i : kInfo)
    if (i.type == t) return i;
  fail(ErrorKind::kInvalidArgument, "unknown KV dtype enum value");
}

}  // namespace

std::string_view kv_dtype_name(KvDtype t) {
  return info(t).name;
}

KvDtype parse_kv_dtype(std::string_view s) {
  if (s == "fp8" || s == "fp8_e4m3" || s == "e4m3") return KvDtype::kF8E4M3;
  if (s == "fp8_e5m2" || s == "e5m2") return KvDtype::kF8E5M2;
  if (s == "fp16") return KvDtype::kF16;
  for (const auto& i : kInfo)
    if (s == i.name) return i.type;
  fail(ErrorKind::kInvalidArgument,
       "unknown KV dtype '" + std::string(s) +
           "' (expected f32, f16, bf16, fp8, fp8-e4m3, fp8-e5m2, int8, q8_0, q4_0)");
}

const std::vector<KvDtype>& all_kv_dtypes() {
  static const std::vector<KvDtype> all = [] {
    std::vector<KvDtype> v;
    for (const auto& i : kInfo) v.push_back(i.type);
    return v;
  }();
  return all;
}

int64_t kv_vector_bytes(KvDtype t, int64_t head_dim) {
  const auto& i = info(t);
  const int64_t blocks = ceil_div(head_dim, i.block_values);
  return checked_add(checked_mul(blocks, i.block_bytes, "KV vector size"), i.vector_scale_bytes,
                     "KV vector size");
}

double kv_bits_per_value(KvDtype t, int64_t head_dim) {
  return 8.0 * static_cast<double>(kv_vector_bytes(t, head_dim)) / static_cast<double>(head_dim);
}

std::string kv_dtype_description(KvDtype t) {
  const auto& i = info(t);
  return std::string(i.name) + " (" + std::string(i.what) + ")";
}

}  // namespace gqa

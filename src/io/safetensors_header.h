#pragma once
// The safetensors header: an 8-byte little-endian length N, N bytes of JSON naming each tensor's
// dtype, shape and byte range in the data section that follows. Parsing validates everything
// before any tensor byte is touched.
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"

namespace gqa::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range in the data section (after the header)
  uint64_t end = 0;
  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::map<std::string, std::string> metadata;  // "__metadata__"
  std::vector<TensorInfo> tensors;              // ordered by begin
  uint64_t data_offset = 0;                     // 8 + N: where the data section starts
};

// Largest header accepted, as in the reference implementation.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
// Most tensors one file may list: Llama-3.1-405B has 1,138 in all, the largest mixture-of-experts
// checkpoints ~100,000 over many shards. Counted before the header is parsed.
constexpr uint64_t kMaxTensorsPerFile = 262144;

// Validates: length bounds; JSON object; known dtypes (F32, F16, BF16, F8_E4M3, F8_E5M2, I8, U8,
// I32, I64); non-negative shapes whose element count times the dtype size equals the byte range;
// ranges inside the file, not overlapping and covering the data section without holes.
// `source` names the file in messages. Throws Error (kParse).
SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file,
                                           const std::string& source);

// The JSON header text for tensors laid out in the given order, padded with spaces to a multiple
// of 8 bytes so that the data section is aligned. Assigns begin/end in order.
std::string make_safetensors_header(std::vector<TensorInfo>& tensors,
                                    const std::map<std::string, std::string>& metadata);

// Element count of a shape, with overflow and negative checks. Throws Error (kParse).
int64_t shape_numel(const std::vector<int64_t>& shape, const std::string& what);

}  // namespace gqa::io

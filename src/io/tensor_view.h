#pragma once
// A zero-copy view of one stored tensor: its dtype, shape and bytes inside a mapped file.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace gqa::io {

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const std::byte> data;  // numel * dtype_size bytes

  int64_t numel() const { return static_cast<int64_t>(data.size()) / dtype_size(dtype); }
};

}  // namespace gqa::io

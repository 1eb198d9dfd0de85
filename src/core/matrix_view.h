#pragma once
// A stored matrix seen in place: row-major [rows, cols] elements of `dtype` (a PyTorch Linear
// weight is [out, in]), pointing into a mapped file. Kernels and the converter widen bf16/f16
// rows on the fly rather than copying the matrix.
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace gqa {

struct MatrixView {
  const std::byte* data = nullptr;
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;

  const std::byte* row(int64_t r) const { return data + r * cols * dtype_size(dtype); }
};

}  // namespace gqa

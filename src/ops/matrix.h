#pragma once
// A weight matrix as stored: row-major [rows, cols] (a PyTorch Linear weight is [out, in]) in
// f32, bf16 or f16, pointing into the mapped checkpoint. Kernels convert bf16/f16 on the fly.
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace gqa::ops {

struct Matrix {
  const std::byte* data = nullptr;
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;

  const std::byte* row(int64_t r) const { return data + r * cols * dtype_size(dtype); }
};

}  // namespace gqa::ops

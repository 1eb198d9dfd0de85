#pragma once
// f32 vector primitives of the attention kernels, with AVX-512 and AVX2 versions chosen at run
// time from what the CPU supports, and a scalar fallback.
#include <cstdint>

#include "core/cpu_features.h"

namespace gqa::ops {

struct VecOps {
  const char* name;
  Isa isa;  // the instructions it needs
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float a, const float* x, float* y, int64_t n);  // y += a * x
  void (*scale)(float a, float* y, int64_t n);                 // y *= a
  // x[i] = exp(x[i]) for x[i] <= 0 (softmax numerators); relative error below 2e-7, and
  // arguments below -87 give 0.
  void (*exp_nonpos)(float* x, int64_t n);
};

const VecOps& vec_ops();  // the best that cpu_features() allows
// Every implementation cpu_features() allows (scalar first), for tests.
int available_vec_ops(const VecOps** out, int max);

}  // namespace gqa::ops

#pragma once
// Small per-token kernels: RMSNorm and the SiLU-gated MLP activation.
#include <cstdint>

namespace gqa::ops {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], for n values (x and out may alias).
void rmsnorm(const float* x, const float* w, int64_t n, float eps, float* out);

// gate[i] = silu(gate[i]) * up[i]  (SwiGLU), silu(g) = g / (1 + exp(-g)).
void swiglu(float* gate, const float* up, int64_t n);

}  // namespace gqa::ops

#pragma once
// Small per-token kernels: RMSNorm, the gated MLP activations and logit soft-capping.
#include <cstdint>

namespace gqa::ops {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], for n values (x and out may alias).
void rmsnorm(const float* x, const float* w, int64_t n, float eps, float* out);

// gate[i] = silu(gate[i]) * up[i]  (SwiGLU), silu(g) = g / (1 + exp(-g)).
void swiglu(float* gate, const float* up, int64_t n);
// gate[i] = gelu_tanh(gate[i]) * up[i] (Gemma's GeGLU), with transformers' gelu_pytorch_tanh:
// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
void geglu_tanh(float* gate, const float* up, int64_t n);
// x[i] = cap * tanh(x[i] / cap): Gemma's logit soft-capping.
void soft_cap(float* x, int64_t n, float cap);

}  // namespace gqa::ops

#pragma once
// How the weights are stored, for their bytes: a plain dtype (f32, f16, bf16, fp8, int8) or a
// 4-bit format. q4_0: llama.cpp's blocks of 32 weights with an f16 scale (4.5 bits a weight),
// every matrix. int4-g128: AWQ/GPTQ, 4 bits with an f16 scale and a 4-bit zero point per group
// of 128 (4.156 bits), the linear layers only: embeddings and the LM head stay in 16 bits.
#include <cstdint>
#include <string>
#include <string_view>

#include "config/model_config.h"
#include "core/dtype.h"

namespace gqa::plan {

struct WeightsFormat {
  std::string name = "bf16";
  double bits_per_weight = 16;     // of the quantized matrices
  bool embeddings_16_bit = false;  // embeddings (and an untied LM head) kept at 16 bits
};

// "f32", "f16", "bf16", "fp8", "int8", "q4_0", "int4-g128". Throws Error naming the choices.
WeightsFormat parse_weights_format(std::string_view name);
WeightsFormat weights_format_of(DType dtype);

// The model's weight bytes in that format (rounded up).
int64_t weights_bytes(const ModelConfig& m, const WeightsFormat& f);

}  // namespace gqa::plan

#include "plan/weights_format.h"

#include <cmath>

#include "core/checked_math.h"
#include "core/error.h"

namespace gqa::plan {

WeightsFormat weights_format_of(DType dtype) {
  return {std::string(dtype_name(dtype)), 8.0 * static_cast<double>(dtype_size(dtype)), false};
}

WeightsFormat parse_weights_format(std::string_view name) {
  if (name == "q4_0") return {"q4_0", 4.5, false};
  if (name == "int4-g128") return {"int4-g128", 4.0 + (16.0 + 4.0) / 128.0, true};
  try {
    return weights_format_of(parse_dtype(name));
  } catch (const Error&) {
    fail(ErrorKind::kInvalidArgument, "unknown weights format '" + std::string(name) +
                                          "' (choices: f32, f16, bf16, fp8, int8, q4_0, "
                                          "int4-g128)");
  }
}

int64_t weights_bytes(const ModelConfig& m, const WeightsFormat& f) {
  const int64_t params = m.parameter_count();
  int64_t kept = 0;  // parameters stored at 16 bits
  if (f.embeddings_16_bit)
    kept = checked_mul(checked_mul(m.vocab, m.hidden, "embedding parameters"),
                       m.tie_embeddings ? 1 : 2, "embedding parameters");
  const double bytes = static_cast<double>(params - kept) * f.bits_per_weight / 8.0 +
                       static_cast<double>(kept) * 2.0;
  return static_cast<int64_t>(std::ceil(bytes));
}

}  // namespace gqa::plan

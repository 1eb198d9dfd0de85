// libFuzzer target: config.json, and what the planner derives from an accepted one.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/hf_config.h"
#include "config/rope_frequencies.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const gqa::ModelConfig c =
        gqa::parse_hf_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    c.kv_bytes_per_token(gqa::KvDtype::kF16);
    for (int64_t l = 0; l < c.layers; ++l) c.layer_tokens_held(l, 4096);
    if (c.intermediate > 0 && c.vocab > 0) c.parameter_count();
    gqa::rope_inv_freq(c);
  } catch (const gqa::Error&) {
  }
  return 0;
}

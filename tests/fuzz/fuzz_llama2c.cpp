// libFuzzer target: a llama2.c model file's header against its size.
#include <cstddef>
#include <cstdint>
#include <span>

#include "convert/import_llama2c.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const gqa::ModelConfig m = gqa::convert::llama2c_config(
        std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz.bin");
    m.kv_bytes_per_token(gqa::KvDtype::kF32);
  } catch (const gqa::Error&) {
  }
  return 0;
}

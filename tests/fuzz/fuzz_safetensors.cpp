// libFuzzer target: a safetensors file's header (the first byte 0) or a sharded index (1).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto* bytes = reinterpret_cast<const std::byte*>(data + 1);
  try {
    if (data[0] % 2 == 0)
      gqa::io::parse_safetensors_header(std::span(bytes, size - 1), "fuzz.safetensors");
    else
      gqa::io::parse_safetensors_index(
          std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), "fuzz.index.json");
  } catch (const gqa::Error&) {
  }
  return 0;
}

// libFuzzer target: the server's request parser, POST /v1/completions (first byte even) and
// /v1/chat/completions (odd).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "serve/openai_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    gqa::serve::parse_completion(body, data[0] % 2 == 1);
  } catch (const gqa::serve::ApiError&) {  // a 400; anything else escaping is a bug (a 500)
  } catch (const gqa::Error&) {
  }
  return 0;
}

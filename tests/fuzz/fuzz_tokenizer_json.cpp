// libFuzzer target: tokenizer.json loaded, then encoding and decoding with it.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/hf_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const gqa::tok::HfTokenizer tok(std::string_view(reinterpret_cast<const char*>(data), size),
                                    "", "fuzz");
    for (const char* text : {"Hello world", " a  b\n\nc's 123 \xc3\xa9\xf0\x9f\x98\x80", "\xff\xfe"})
      tok.decode(tok.encode(text), false);
    std::vector<int32_t> ids;
    for (int32_t i = -2; i < 300; ++i) ids.push_back(i);
    tok.decode(ids, true);
  } catch (const gqa::Error&) {
  }
  return 0;
}

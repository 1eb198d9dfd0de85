// libFuzzer target: a SentencePiece tokenizer.model checked, loaded and used.
#include <sentencepiece_processor.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/sentencepiece_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view model(reinterpret_cast<const char*>(data), size);
  try {
    gqa::tok::check_sentencepiece_model(model, "fuzz");
  } catch (const gqa::Error&) {
    return 0;
  }
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.LoadFromSerializedProto(model).ok()) return 0;
  std::vector<int> ids;
  for (const char* text : {"In the beginning", " a\tb\n\xef\xbc\xa1\xe2\x91\xa0 \xc3\xa9", "\xff"}) {
    if (sp.Encode(text, &ids).ok()) {
      std::string back;
      (void)sp.Decode(ids, &back);
    }
  }
  return 0;
}

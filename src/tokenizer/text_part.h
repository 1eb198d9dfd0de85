#pragma once
// A piece of a text to encode, and whether special-token text in it becomes special tokens.
#include <string_view>

namespace gqa::tok {

struct TextPart {
  std::string_view text;
  // true: "<|im_start|>" in it is that token (a chat template's markup); false: plain text, as
  // transformers' split_special_tokens=True reads it (user content).
  bool special_text = true;
};

}  // namespace gqa::tok

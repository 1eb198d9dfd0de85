#pragma once
// UTF-8 text helpers over ICU: invalid bytes replaced as a browser's TextDecoder does (each
// maximal ill-formed subpart becomes U+FFFD), Unicode normalization forms, and code points.
#include <cstdint>
#include <string>
#include <string_view>

namespace gqa::tok {

// `s` with every ill-formed UTF-8 subpart replaced by U+FFFD (unchanged when valid).
std::string sanitize_utf8(std::string_view s);

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };
// The Unicode version of the normalization forms: Hugging Face's tokenizers normalize with 9.0
// tables, and tokenizer.json normalizers must give the same text. Characters assigned later
// are left as they are.
inline constexpr const char* kNormalizationVersion = "9.0";
// Throws Error if ICU cannot load its normalization data.
std::string normalize(std::string_view s, NormalForm form);

// Byte length of the UTF-8 sequence that starts with `lead` (1 for bytes that cannot lead).
inline int utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

}  // namespace gqa::tok

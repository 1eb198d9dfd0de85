#pragma once
// UTF-8 text helpers over ICU: invalid bytes replaced as a browser's TextDecoder does (each
// maximal ill-formed subpart becomes U+FFFD), Unicode normalization forms, and code points.
#include <cstddef>
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

// Unicode White_Space (Rust's char::is_whitespace: what the tokenizers library strips).
bool is_white_space(char32_t c);
// Bytes of White_Space at the start / at the end of s (valid UTF-8).
size_t leading_white_space(std::string_view s);
size_t trailing_white_space(std::string_view s);

// cp appended as UTF-8.
void append_utf8(char32_t cp, std::string& out);

// Byte length of the UTF-8 sequence that starts with `lead` (1 for bytes that cannot lead).
inline int utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

}  // namespace gqa::tok

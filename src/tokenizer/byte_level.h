#pragma once
// GPT-2's byte-level alphabet: each byte maps to one printable code point (printable Latin-1
// bytes to themselves, the rest to U+0100 onwards), so any byte string is a string of
// "characters" that BPE vocabularies can hold ("Ġ" is the space byte).
#include <optional>
#include <string>
#include <string_view>

namespace gqa::tok {

// The UTF-8 of the code point that stands for each byte of `bytes`.
std::string bytes_to_byte_level(std::string_view bytes);
// Back to bytes; code points outside the alphabet are kept as their UTF-8.
std::string byte_level_to_bytes(std::string_view text);

}  // namespace gqa::tok

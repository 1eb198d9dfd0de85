#include "tokenizer/byte_level.h"

#include <array>
#include <unordered_map>

#include "tokenizer/unicode_text.h"

namespace gqa::tok {
namespace {

struct Tables {
  std::array<std::string, 256> to_text;
  std::unordered_map<char32_t, unsigned char> to_byte;
};

const Tables& tables() {
  static const Tables t = [] {
    Tables r;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      const char32_t cp = printable ? static_cast<char32_t>(b) : next++;
      append_utf8(cp, r.to_text[static_cast<size_t>(b)]);
      r.to_byte[cp] = static_cast<unsigned char>(b);
    }
    return r;
  }();
  return t;
}

}  // namespace

std::string bytes_to_byte_level(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += t.to_text[b];
  return out;
}

std::string byte_level_to_bytes(std::string_view text) {
  const Tables& t = tables();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const int n = utf8_length(lead);
    char32_t cp = lead;
    if (n == 2 && i + 1 < text.size())
      cp = ((lead & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3Fu);
    else if (n == 3 && i + 2 < text.size())
      cp = ((lead & 0x0Fu) << 12) | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
    const auto it = n <= 3 ? t.to_byte.find(cp) : t.to_byte.end();
    if (it != t.to_byte.end())
      out += static_cast<char>(it->second);
    else
      out.append(text.substr(i, static_cast<size_t>(n)));
    i += static_cast<size_t>(n);
  }
  return out;
}

}  // namespace gqa::tok

#include "tokenizer/unicode_text.h"

#include <algorithm>
#include <bitset>
#include <memory>

#include <unicode/normalizer2.h>
#include <unicode/uniset.h>
#include <unicode/unistr.h>

#include "core/error.h"
#include "tokenizer/unicode_lowercase.h"
#include "tokenizer/unicode_stand_ins.h"

namespace gqa::tok {

std::string sanitize_utf8(std::string_view s) {
  const auto u =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  std::string out;
  u.toUTF8String(out);
  return out;
}

namespace {

// One normalizer per form, restricted to the characters of Unicode 9.0 (kNormalizationVersion):
// text with later characters is normalized around them, each left as it is, which is what the
// 9.0 tables of Hugging Face's tokenizers (the unicode-normalization-alignments crate) do.
// Canonical mappings and combining classes of assigned characters never change (Unicode's
// stability policy), so ICU's newer data restricted to 9.0 equals the 9.0 tables.
const icu::Normalizer2& normalizer(NormalForm form) {
  static const auto make = [](NormalForm f) -> std::unique_ptr<icu::Normalizer2> {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = nullptr;
    switch (f) {
      case NormalForm::kNFC:
        n = icu::Normalizer2::getNFCInstance(status);
        break;
      case NormalForm::kNFD:
        n = icu::Normalizer2::getNFDInstance(status);
        break;
      case NormalForm::kNFKC:
        n = icu::Normalizer2::getNFKCInstance(status);
        break;
      case NormalForm::kNFKD:
        n = icu::Normalizer2::getNFKDInstance(status);
        break;
    }
    static const auto* const assigned = [] {
      UErrorCode st = U_ZERO_ERROR;
      auto* set = new icu::UnicodeSet(
          icu::UnicodeString::fromUTF8(std::string("[:age=") + kNormalizationVersion + ":]"), st);
      if (U_FAILURE(st)) return static_cast<icu::UnicodeSet*>(nullptr);
      set->freeze();
      return set;
    }();
    if (U_FAILURE(status) || !n || !assigned) return nullptr;
    return std::make_unique<icu::FilteredNormalizer2>(*n, *assigned);
  };
  static const std::unique_ptr<icu::Normalizer2> forms[] = {
      make(NormalForm::kNFC), make(NormalForm::kNFD), make(NormalForm::kNFKC),
      make(NormalForm::kNFKD)};
  const auto& n = forms[static_cast<int>(form)];
  if (!n) fail(ErrorKind::kIo, "ICU normalization data unavailable");
  return *n;
}

}  // namespace

std::string normalize(std::string_view s, NormalForm form) {
  const icu::Normalizer2& n = normalizer(form);
  UErrorCode status = U_ZERO_ERROR;
  const auto u =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  if (n.isNormalized(u, status) && U_SUCCESS(status)) return std::string(s);
  status = U_ZERO_ERROR;
  const icu::UnicodeString out = n.normalize(u, status);
  if (U_FAILURE(status)) fail(ErrorKind::kInvalidArgument, "cannot normalize text");
  std::string r;
  out.toUTF8String(r);
  return r;
}

namespace {

// The stand-in of cp, or 0 when it has none.
char32_t stand_in_of(char32_t cp) {
  const auto runs = unicode_stand_ins();
  const auto it = std::upper_bound(runs.begin(), runs.end(), cp,
                                   [](char32_t c, const StandIn& r) { return c < r.first; });
  if (it == runs.begin() || cp > std::prev(it)->last) return 0;
  return std::prev(it)->stand_in;
}

// Which BMP code points have a stand-in: one bit each, so CJK text costs a lookup a character.
const std::bitset<0x10000>& bmp_with_stand_ins() {
  static const auto bits = [] {
    auto b = std::make_unique<std::bitset<0x10000>>();
    for (const StandIn& r : unicode_stand_ins())
      for (char32_t c = r.first; c <= r.last && c < 0x10000; ++c) b->set(c);
    return b;
  }();
  return *bits;
}

// Writes cp as UTF-8 of exactly n bytes (n is cp's own length: stand-ins keep it).
void put_utf8(char32_t cp, int n, char* at) {
  if (n == 2) {
    at[0] = static_cast<char>(0xC0 | (cp >> 6));
    at[1] = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (n == 3) {
    at[0] = static_cast<char>(0xE0 | (cp >> 12));
    at[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    at[2] = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    at[0] = static_cast<char>(0xF0 | (cp >> 18));
    at[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    at[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    at[3] = static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

void append_utf8(char32_t cp, std::string& out) {
  char buf[4];
  const int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  if (n == 1)
    buf[0] = static_cast<char>(cp);
  else
    put_utf8(cp, n, buf);
  out.append(buf, static_cast<size_t>(n));
}

bool substitute_stand_ins(std::string_view text, std::string& out) {
  const auto& bmp = bmp_with_stand_ins();
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  bool copied = false;
  for (size_t i = 0; i < n;) {
    const unsigned char lead = s[i];
    if (lead < 0xE0) {  // ASCII and 2-byte sequences: none has a stand-in (checked in tests)
      i += lead < 0x80 ? 1 : 2;
      continue;
    }
    const int len = lead < 0xF0 ? 3 : 4;
    if (i + static_cast<size_t>(len) > n) break;  // not valid UTF-8: leave the tail alone
    char32_t cp = len == 3 ? (lead & 0x0F) : (lead & 0x07);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
    const char32_t to = cp < 0x10000 ? (bmp.test(cp) ? stand_in_of(cp) : 0) : stand_in_of(cp);
    if (to) {
      if (!copied) out.assign(text);
      copied = true;
      put_utf8(to, len, out.data() + i);
    }
    i += static_cast<size_t>(len);
  }
  return copied;
}

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

namespace {

// The code point of the valid UTF-8 sequence s[i, i + n).
char32_t decode(std::string_view s, size_t i, size_t n) {
  const auto b = static_cast<unsigned char>(s[i]);
  char32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return c;
}

}  // namespace

size_t leading_white_space(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto n = static_cast<size_t>(utf8_length(static_cast<unsigned char>(s[i])));
    if (i + n > s.size() || !is_white_space(decode(s, i, n))) break;
    i += n;
  }
  return i;
}

size_t trailing_white_space(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;  // back to the lead byte
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (end - start > 4 || !is_white_space(decode(s, start, end - start))) break;
    end = start;
  }
  return s.size() - end;
}

std::string lowercase(std::string_view text) {
  const auto table = unicode_lowercase();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      out += static_cast<char>(b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b);
      ++i;
      continue;
    }
    const auto n = std::min(static_cast<size_t>(utf8_length(b)), text.size() - i);
    const char32_t c = decode(text, i, n);
    const auto it =
        std::lower_bound(table.begin(), table.end(), c,
                         [](const LowercaseMapping& m, char32_t v) { return m.from < v; });
    if (it != table.end() && it->from == c) {
      append_utf8(it->to[0], out);
      if (it->to[1]) append_utf8(it->to[1], out);
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace gqa::tok

#include "tokenizer/added_vocabulary.h"

#include "core/error.h"
#include "tokenizer/unicode_text.h"

namespace gqa::tok {
namespace {

// Unicode White_Space (Rust's char::is_whitespace, what the tokenizers library's lstrip and
// rstrip remove).
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// The code point of the valid UTF-8 sequence s[i, i + n).
char32_t decode(std::string_view s, size_t i, size_t n) {
  const auto b = static_cast<unsigned char>(s[i]);
  char32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return c;
}

// Bytes of white space at the start / at the end of s (valid UTF-8).
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

}  // namespace

AddedVocabulary::AddedVocabulary(const nlohmann::json& added) : trie_(1) {
  if (added.is_null()) return;
  if (!added.is_array()) fail(ErrorKind::kParse, "tokenizer.json: added_tokens is not an array");
  for (const auto& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
        !a.contains("content") || !a["content"].is_string())
      fail(ErrorKind::kParse, "tokenizer.json: an added token lacks an id or content");
    const int64_t id = a["id"].get<int64_t>();
    if (id < 0 || id >= int64_t{1} << 30)
      fail(ErrorKind::kParse,
           "tokenizer.json: added token id " + std::to_string(id) + " is outside [0, 2^30)");
    AddedToken t;
    t.id = static_cast<int32_t>(id);
    t.content = a["content"].get<std::string>();
    t.special = a.value("special", false);
    t.lstrip = a.value("lstrip", false);
    t.rstrip = a.value("rstrip", false);
    if (t.content.empty()) continue;
    tokens_.push_back(std::move(t));
  }
  for (size_t i = 0; i < tokens_.size(); ++i) {
    int32_t node = 0;
    for (unsigned char c : tokens_[i].content) {
      auto it = trie_[static_cast<size_t>(node)].next.find(c);
      if (it == trie_[static_cast<size_t>(node)].next.end()) {
        trie_.emplace_back();
        it = trie_[static_cast<size_t>(node)]
                 .next.emplace(c, static_cast<int32_t>(trie_.size() - 1))
                 .first;
      }
      node = it->second;
    }
    trie_[static_cast<size_t>(node)].token = static_cast<int32_t>(i);
  }
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  int32_t node = 0;
  for (unsigned char c : content) {
    const auto it = trie_[static_cast<size_t>(node)].next.find(c);
    if (it == trie_[static_cast<size_t>(node)].next.end()) return nullptr;
    node = it->second;
  }
  const int32_t t = trie_[static_cast<size_t>(node)].token;
  return t < 0 ? nullptr : &tokens_[static_cast<size_t>(t)];
}

std::vector<AddedVocabulary::Section> AddedVocabulary::split(std::string_view text,
                                                             const Ranges* special_ok) const {
  // May a special token span [b, e)? Only inside one of the ranges.
  const auto allowed = [&](size_t b, size_t e) {
    if (!special_ok) return true;
    for (const auto& [rb, re] : *special_ok)
      if (b >= rb && e <= re) return true;
    return false;
  };
  std::vector<Section> out;
  size_t plain = 0;  // start of the current plain section
  for (size_t i = 0; i < text.size();) {
    // The longest added token starting at i that may stand there.
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t k = i; k < text.size(); ++k) {
      const auto it =
          trie_[static_cast<size_t>(node)].next.find(static_cast<unsigned char>(text[k]));
      if (it == trie_[static_cast<size_t>(node)].next.end()) break;
      node = it->second;
      const int32_t t = trie_[static_cast<size_t>(node)].token;
      if (t >= 0 && (!tokens_[static_cast<size_t>(t)].special || allowed(i, k + 1))) {
        best = t;
        best_end = k + 1;
      }
    }
    if (best < 0) {
      ++i;
      continue;
    }
    out.push_back({std::string(text.substr(plain, i - plain)), nullptr});
    out.push_back({std::string(text.substr(i, best_end - i)), &tokens_[static_cast<size_t>(best)]});
    i = plain = best_end;
  }
  out.push_back({std::string(text.substr(plain)), nullptr});
  // Whitespace next to tokens that strip it.
  for (size_t s = 0; s < out.size(); ++s) {
    if (!out[s].token) continue;
    if (out[s].token->lstrip && s > 0) {
      std::string& prev = out[s - 1].text;
      prev.resize(prev.size() - trailing_white_space(prev));
    }
    if (out[s].token->rstrip && s + 1 < out.size()) {
      std::string& next = out[s + 1].text;
      next.erase(0, leading_white_space(next));
    }
  }
  return out;
}

}  // namespace gqa::tok

#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode_text.h"

namespace gqa::tok {
namespace {

// A word character as the Rust regex crate's \\w: letters, marks, decimal digits, letter
// numbers, connector punctuation and the joiners (its Alphabetic adds a few symbols, such as
// circled letters, that this leaves out). Unicode 16.0 classes (tok::Regex).
bool is_word_character(std::string_view ch) {
  static const Regex word(R"([\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\x{200C}\x{200D}])");
  return !word.find_all(ch).empty();
}

bool ends_with_word_character(std::string_view s) {
  if (s.empty()) return false;
  size_t start = s.size() - 1;
  while (start > 0 && s.size() - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80)
    --start;
  return is_word_character(s.substr(start));
}

bool starts_with_word_character(std::string_view s) {
  if (s.empty()) return false;
  const auto n = static_cast<size_t>(utf8_length(static_cast<unsigned char>(s[0])));
  return is_word_character(s.substr(0, std::min(n, s.size())));
}

}  // namespace

AddedVocabulary::AddedVocabulary(const nlohmann::json& added,
                                 const std::function<std::string(std::string)>& normalize)
    : trie_(2) {
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
    const auto flag = [&](const char* key, bool fallback) {
      const auto it = a.find(key);
      if (it == a.end() || it->is_null()) return fallback;
      if (!it->is_boolean())
        fail(ErrorKind::kParse,
             std::string("tokenizer.json: an added token's \"") + key + "\" is not true or false");
      return it->get<bool>();
    };
    AddedToken t;
    t.id = static_cast<int32_t>(id);
    t.content = a["content"].get<std::string>();
    t.special = flag("special", false);
    t.lstrip = flag("lstrip", false);
    t.rstrip = flag("rstrip", false);
    t.single_word = flag("single_word", false);
    t.normalized = flag("normalized", !t.special);  // the library's default
    if (t.content.empty()) continue;
    tokens_.push_back(std::move(t));
  }
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (!t.normalized) {
      insert(0, t.content, static_cast<int32_t>(i));
    } else if (const std::string n = normalize ? normalize(t.content) : t.content; !n.empty()) {
      insert(1, n, static_cast<int32_t>(i));
    }
  }
}

void AddedVocabulary::insert(int32_t root, std::string_view key, int32_t token) {
  int32_t node = root;
  for (unsigned char c : key) {
    auto it = trie_[static_cast<size_t>(node)].next.find(c);
    if (it == trie_[static_cast<size_t>(node)].next.end()) {
      trie_.emplace_back();
      it = trie_[static_cast<size_t>(node)]
               .next.emplace(c, static_cast<int32_t>(trie_.size() - 1))
               .first;
    }
    node = it->second;
  }
  // The first of two tokens with the same content wins, as in the library's map.
  if (trie_[static_cast<size_t>(node)].token < 0) trie_[static_cast<size_t>(node)].token = token;
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  for (const AddedToken& t : tokens_)
    if (t.content == content) return &t;
  return nullptr;
}

std::vector<AddedVocabulary::Section> AddedVocabulary::split(std::string_view text,
                                                             const Ranges* special_ok,
                                                             Pass pass) const {
  // May a special token span [b, e)? Only inside one of the ranges.
  const auto allowed = [&](size_t b, size_t e) {
    if (!special_ok) return true;
    for (const auto& [rb, re] : *special_ok)
      if (b >= rb && e <= re) return true;
    return false;
  };
  const int32_t root = pass == Pass::kRaw ? 0 : 1;
  std::vector<Section> out;
  size_t plain = 0;  // start of the current plain section
  for (size_t i = 0; i < text.size();) {
    // The longest added token starting at i that may stand there.
    int32_t node = root, best = -1;
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
    const AddedToken& token = tokens_[static_cast<size_t>(best)];
    // A single_word token that a word character touches is no match; as in the library, the
    // search goes on after it, not inside it.
    if (token.single_word && (ends_with_word_character(text.substr(0, i)) ||
                              starts_with_word_character(text.substr(best_end)))) {
      i = best_end;
      continue;
    }
    out.push_back({std::string(text.substr(plain, i - plain)), nullptr, plain});
    out.push_back({std::string(text.substr(i, best_end - i)), &token, i});
    i = plain = best_end;
  }
  out.push_back({std::string(text.substr(plain)), nullptr, plain});
  // Whitespace next to tokens that strip it.
  for (size_t s = 0; s < out.size(); ++s) {
    if (!out[s].token) continue;
    if (out[s].token->lstrip && s > 0) {
      std::string& prev = out[s - 1].text;
      prev.resize(prev.size() - trailing_white_space(prev));
    }
    if (out[s].token->rstrip && s + 1 < out.size()) {
      std::string& next = out[s + 1].text;
      const size_t n = leading_white_space(next);
      next.erase(0, n);
      out[s + 1].begin += n;
    }
  }
  return out;
}

}  // namespace gqa::tok

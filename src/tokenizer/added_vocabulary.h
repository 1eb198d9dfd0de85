#pragma once
// tokenizer.json's added_tokens (special tokens such as <|begin_of_text|>, and others), found
// as the Hugging Face tokenizers library finds them: leftmost and longest first (a byte trie),
// those with "normalized": false in the raw text, those with "normalized": true (the default
// for non-special tokens) in each normalized plain section, by their normalized content;
// "single_word" tokens only where no word character touches them; "lstrip"/"rstrip" take the
// Unicode white space beside them.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace gqa::tok {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false, lstrip = false, rstrip = false, single_word = false;
  bool normalized = false;  // matched in normalized text (by its normalized content)
};

class AddedVocabulary {
 public:
  // normalize: the tokenizer's normalizer, applied to the content of "normalized" tokens.
  // Throws Error for a malformed entry.
  explicit AddedVocabulary(const nlohmann::json& added_tokens,
                           const std::function<std::string(std::string)>& normalize = {});

  // The text cut into plain sections and added tokens, in order (plain sections may be empty
  // after stripping). token is null for a plain section. Raw text: the tokens with
  // normalized=false; normalized text (a plain section after the normalizer): the others.
  // special_ok: the byte ranges [begin, end) where special tokens may be found, null for
  // everywhere; elsewhere their text is plain text (transformers' split_special_tokens).
  // Non-special added tokens are found everywhere.
  enum class Pass { kRaw, kNormalized };
  struct Section {
    std::string text;
    const AddedToken* token = nullptr;
    size_t begin = 0;  // where it starts in the text given
  };
  using Ranges = std::vector<std::pair<size_t, size_t>>;
  std::vector<Section> split(std::string_view text, const Ranges* special_ok = nullptr,
                             Pass pass = Pass::kRaw) const;
  bool has_normalized_tokens() const { return trie_[1].token >= 0 || !trie_[1].next.empty(); }

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* find(std::string_view content) const;

 private:
  struct Node {
    std::unordered_map<unsigned char, int32_t> next;
    int32_t token = -1;  // index into tokens_ when a token ends here
  };
  void insert(int32_t root, std::string_view key, int32_t token);

  std::vector<AddedToken> tokens_;
  // Two tries in one node array: node 0 is the root of the raw tokens' contents, node 1 of the
  // normalized tokens' normalized contents.
  std::vector<Node> trie_;
};

}  // namespace gqa::tok

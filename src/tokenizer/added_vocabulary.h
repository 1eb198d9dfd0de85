#pragma once
// tokenizer.json's added_tokens (special tokens such as <|begin_of_text|>, and others): found
// in the raw text before normalization and pre-tokenization, leftmost and longest first, with
// a byte trie; lstrip/rstrip remove the whitespace next to a match.
#include <cstdint>
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
  bool special = false, lstrip = false, rstrip = false;
};

class AddedVocabulary {
 public:
  // Throws Error for a malformed entry.
  explicit AddedVocabulary(const nlohmann::json& added_tokens);

  // The text cut into plain sections and added tokens, in order (plain sections may be empty
  // after stripping). token is null for a plain section. special_ok: the byte ranges [begin,
  // end) where special tokens may be found, null for everywhere; elsewhere their text is plain
  // text (transformers' split_special_tokens). Non-special added tokens are found everywhere.
  struct Section {
    std::string text;
    const AddedToken* token = nullptr;
  };
  using Ranges = std::vector<std::pair<size_t, size_t>>;
  std::vector<Section> split(std::string_view text, const Ranges* special_ok = nullptr) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* find(std::string_view content) const;

 private:
  struct Node {
    std::unordered_map<unsigned char, int32_t> next;
    int32_t token = -1;  // index into tokens_ when a token ends here
  };
  std::vector<AddedToken> tokens_;
  std::vector<Node> trie_;  // node 0 is the root
};

}  // namespace gqa::tok

#pragma once
// The BPE model of tokenizer.json: a vocabulary, merges by rank, and the options the families
// use (byte_fallback, ignore_merges, unk_token with fuse_unk, continuing_subword_prefix and
// end_of_word_suffix). A word is split into characters and the lowest-ranked adjacent pair is
// merged until none is left (a priority queue over pairs); results are cached per word.
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace gqa::tok {

// Ids a tokenizer.json with `entries` tokens (vocab and added tokens) may use: [0, limit). Ids
// may leave gaps, but not more than 4x the tokens plus 1024 (real files are dense).
int64_t token_id_limit(int64_t entries);

// model.vocab and model.merges as flat lists: the bulk of a tokenizer.json (Gemma 3's is 33 MB),
// read straight into these by the streaming parse in hf_tokenizer.cpp, never held as a JSON tree.
struct BpeTables {
  static constexpr int64_t kNotAnId = INT64_MIN;       // a vocab value that is not an integer
  std::vector<std::pair<std::string, int64_t>> vocab;  // token, id (checked by BpeModel)
  std::vector<std::pair<std::string, std::string>> merges;
  int64_t bad_merge = -1;  // the index of the first merge that is neither "a b" nor ["a", "b"]
  bool has_vocab = false, has_merges = false;
};

// Adds one merges entry (a string "a b" or an array ["a", "b"]) to tables.
void add_merge(const nlohmann::json& entry, BpeTables& tables);

class BpeModel {
 public:
  // `model` is tokenizer.json's "model" object without vocab and merges, which come as tables.
  // Throws Error naming what is malformed.
  BpeModel(const nlohmann::json& model, BpeTables tables);
  // `model` with its vocab and merges.
  explicit BpeModel(const nlohmann::json& model);

  // Appends the ids of one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  std::optional<int32_t> id_of(std::string_view token) const;
  const std::string* token_of(int32_t id) const;  // null when out of range
  int64_t vocab_size() const { return static_cast<int64_t>(tokens_.size()); }
  // Added tokens share the id space (for decoding) but are matched before BPE, never by it.
  void add_decoding(int32_t id, const std::string& content);

 private:
  void add_token(int32_t id, std::string content);
  struct Merge {
    int32_t rank, merged;
  };
  void merge_symbols(std::vector<int32_t>& symbols) const;
  void initial_symbols(std::string_view word, std::vector<int32_t>& out) const;

  // Looked up by string_view without a copy.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> vocab_;
  std::vector<std::string> tokens_;             // by id
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> rank, result
  std::optional<int32_t> unk_;
  bool byte_fallback_ = false, ignore_merges_ = false, fuse_unk_ = false;
  std::string prefix_, suffix_;    // continuing_subword_prefix, end_of_word_suffix
  std::vector<int32_t> byte_ids_;  // "<0xXX>" ids when byte_fallback, else empty

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace gqa::tok

#pragma once
// A Hugging Face tokenizer.json (with tokenizer_config.json beside it): the pipeline of the
// tokenizers library, text -> added-token split -> normalizer -> pre-tokenizer -> BPE ->
// post-processor, and ids -> decoder -> text. Llama 3, Qwen2.5/Qwen3, SmolLM, Phi-4 (byte-level
// BPE) and Gemma 3 (BPE with byte fallback) use this form.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/text_part.h"

namespace gqa::tok {

class HfTokenizer {
 public:
  // Reads dir/tokenizer.json and, when present, dir/tokenizer_config.json. Throws Error naming
  // the file and what in it is missing, malformed or unsupported.
  explicit HfTokenizer(const std::filesystem::path& dir);
  // From the two files' JSON text (tokenizer_config may be empty).
  HfTokenizer(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
              const std::string& source);

  // Invalid UTF-8 is read as U+FFFD. add_special: the post-processor's tokens (BOS, ...).
  // special_text: whether special-token text (<|im_start|>...) in `text` becomes those tokens;
  // false reads it as plain text (transformers' split_special_tokens=True).
  std::vector<int32_t> encode(std::string_view text, bool add_special = true,
                              bool special_text = true) const;
  // One text given in parts, tokenized as their concatenation (so the ids equal encode() of
  // the whole) but with special-token text recognized only in the parts that allow it: a chat
  // template's markup does, user content does not.
  std::vector<int32_t> encode_parts(std::span<const TextPart> parts, bool add_special) const;
  // skip_special drops special tokens (BOS, EOS, ...) from the text.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = true) const;

  int64_t vocab_size() const { return bpe_->vocab_size(); }
  std::optional<int32_t> token_id(std::string_view token) const;
  std::string token_text(int32_t id) const;  // the token's string, "" when out of range
  // tokenizer_config.json's bos_token / eos_token, when set and known.
  std::optional<int32_t> bos_id() const { return bos_; }
  std::optional<int32_t> eos_id() const { return eos_; }

 private:
  void load(std::string_view tokenizer_json, std::string_view config_json,
            const std::string& source);
  std::vector<int32_t> post_process(std::vector<int32_t> ids, bool add_special) const;
  std::vector<int32_t> encode_text(const std::string& text,
                                   const AddedVocabulary::Ranges* special_ok,
                                   bool add_special) const;

  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<AddedVocabulary> added_;
  std::unordered_set<int32_t> special_ids_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  Decoder decoder_;
  // The post-processor's template for one sequence: ids, with -1 standing for the text.
  std::vector<int32_t> template_;
  bool clean_up_spaces_ = true;
  std::optional<int32_t> bos_, eos_;
};

// True when dir holds a tokenizer.json.
bool has_hf_tokenizer(const std::filesystem::path& dir);

}  // namespace gqa::tok

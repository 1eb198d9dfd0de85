#pragma once
// Text <-> token ids for a checkpoint, from what it holds: a SentencePiece tokenizer.model
// (Llama 2, TinyLlama, Mistral, llama2.c) through libsentencepiece, else a Hugging Face
// tokenizer.json (Llama 3, Qwen, SmolLM, Phi-4, Gemma 3; src/tokenizer). BOS/EOS come from
// config.json, else the tokenizer. SentencePiece: tokenizer_config.json's add_bos_token
// (default true) says whether prompts start with BOS; tokenizer.json: its post-processor does.
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "tokenizer/text_part.h"

namespace sentencepiece {
class SentencePieceProcessor;
}
namespace gqa::tok {

class HfTokenizer;

class Tokenizer {
 public:
  // Throws Error: no tokenizer file, or an unreadable or unsupported one.
  Tokenizer(const std::filesystem::path& checkpoint_dir, const ModelConfig& config);
  ~Tokenizer();

  std::vector<int32_t> encode(const std::string& text) const;  // BOS first when configured
  bool adds_bos() const { return add_bos_; }  // what encode(text) passes as add_bos
  // special_text false reads special-token text (<|im_start|>...) as plain text
  // (transformers' split_special_tokens); tokenizer.model never finds control tokens in text.
  std::vector<int32_t> encode(const std::string& text, bool add_bos,
                              bool special_text = true) const;
  // One text in parts, special-token text found only in the parts that allow it (a chat
  // template's markup, not user content); no BOS. The ids equal encode() of the concatenation
  // when no disallowed part holds special-token text.
  std::vector<int32_t> encode_parts(std::span<const TextPart> parts) const;
  std::optional<int32_t> bos_id() const { return bos_; }
  // The first EOS id (what ends a turn in chat formats), if the tokenizer has one.
  std::optional<int32_t> eos_id() const {
    return eos_.empty() ? std::nullopt : std::optional<int32_t>(eos_.front());
  }
  std::string decode(const std::vector<int32_t>& ids) const;
  bool is_eos(int32_t id) const;
  int64_t vocab_size() const;
  // "sentencepiece" or "tokenizer.json".
  const char* kind() const { return hf_ ? "tokenizer.json" : "sentencepiece"; }
  // The string of one token (a piece), for people inspecting tokenizations.
  std::string token_text(int32_t id) const;
  // The bytes one token stands for inside a decoded text (SentencePiece's ▁ as a space, a byte
  // piece as its byte; special tokens as their text): what logprobs report per token. A
  // character split over byte tokens gives each token its bytes, not valid UTF-8 alone.
  std::string token_bytes(int32_t id) const;

 private:
  // BOS/EOS from config.json, else the tokenizer's own.
  void use_special_ids(const ModelConfig& config, std::optional<int32_t> bos,
                       std::optional<int32_t> eos);

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::unique_ptr<tok::HfTokenizer> hf_;
  std::optional<int32_t> bos_;
  std::vector<int32_t> eos_;
  bool add_bos_ = true;
};

// "1,2,3" -> {1, 2, 3}. Throws Error naming the flag and the bad item.
std::vector<int32_t> parse_token_list(const std::string& s, const std::string& flag = "--tokens");

}  // namespace gqa::tok

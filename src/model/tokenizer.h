#pragma once
// Text <-> token ids for a checkpoint: a SentencePiece tokenizer.model (Llama 2, TinyLlama,
// Mistral, llama2.c) through libsentencepiece. BOS/EOS come from config.json, else the model;
// tokenizer_config.json's add_bos_token (default true) says whether prompts start with BOS.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/model_config.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace gqa::model {

class Tokenizer {
 public:
  // Throws Error: no tokenizer file, an unreadable one, or only tokenizer.json (byte-level BPE
  // is not supported yet; pass token ids instead).
  Tokenizer(const std::filesystem::path& checkpoint_dir, const ModelConfig& config);
  ~Tokenizer();

  std::vector<int32_t> encode(const std::string& text) const;  // BOS first when configured
  std::vector<int32_t> encode(const std::string& text, bool add_bos) const;
  std::optional<int32_t> bos_id() const { return bos_; }
  // The first EOS id (what ends a turn in chat formats), if the tokenizer has one.
  std::optional<int32_t> eos_id() const {
    return eos_.empty() ? std::nullopt : std::optional<int32_t>(eos_.front());
  }
  std::string decode(const std::vector<int32_t>& ids) const;
  bool is_eos(int32_t id) const;
  int64_t vocab_size() const;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::optional<int32_t> bos_;
  std::vector<int32_t> eos_;
  bool add_bos_ = true;
};

// "1,2,3" -> {1, 2, 3}. Throws Error naming the bad item.
std::vector<int32_t> parse_token_list(const std::string& s);

}  // namespace gqa::model

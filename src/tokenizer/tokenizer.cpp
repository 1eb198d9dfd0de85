#include "tokenizer/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_parse.h"
#include "core/text_file.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/sentencepiece_check.h"

namespace gqa::tok {

namespace fs = std::filesystem;

Tokenizer::Tokenizer(const fs::path& dir, const ModelConfig& config) {
  std::error_code ec;
  const fs::path model = dir / "tokenizer.model";
  if (!fs::exists(model, ec)) {
    if (!tok::has_hf_tokenizer(dir))
      fail(ErrorKind::kIo,
           dir.string() + ": no tokenizer.model or tokenizer.json (pass token ids with --tokens)");
    hf_ = std::make_unique<tok::HfTokenizer>(dir);
    use_special_ids(config, hf_->bos_id(), hf_->eos_id());
    return;
  }
  // Read here, bounded, and checked before the library parses it (tokenizer/sentencepiece_check.h).
  sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  load_sentencepiece_model(model, *sp_);
  auto id_or_none = [](int id) { return id >= 0 ? std::optional<int32_t>(id) : std::nullopt; };
  use_special_ids(config, id_or_none(sp_->bos_id()), id_or_none(sp_->eos_id()));
  if (const fs::path tc = dir / "tokenizer_config.json"; fs::exists(tc, ec)) {
    const auto j = parse_json(read_text_file(tc, kMaxTokenizerFileBytes), tc.string());
    if (j.is_object() && j.contains("add_bos_token") && j["add_bos_token"].is_boolean())
      add_bos_ = j["add_bos_token"].get<bool>();
  }
}

Tokenizer::~Tokenizer() = default;

void Tokenizer::use_special_ids(const ModelConfig& config, std::optional<int32_t> bos,
                                std::optional<int32_t> eos) {
  bos_ = config.bos_token_id ? std::optional<int32_t>(static_cast<int32_t>(*config.bos_token_id))
                             : bos;
  for (int64_t id : config.eos_token_ids) eos_.push_back(static_cast<int32_t>(id));
  if (eos_.empty() && eos) eos_.push_back(*eos);
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  return encode(text, add_bos_);
}

std::vector<int32_t> Tokenizer::encode_parts(std::span<const TextPart> parts) const {
  if (hf_) return hf_->encode_parts(parts, false);
  std::string text;
  for (const TextPart& p : parts) text += p.text;
  return encode(text, false);
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_bos,
                                       bool special_text) const {
  // The post-processor adds BOS where it should.
  if (hf_) return hf_->encode(text, add_bos, special_text);
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  if (!status.ok()) fail(ErrorKind::kInvalidArgument, "cannot tokenize: " + status.ToString());
  std::vector<int32_t> out;
  if (add_bos && bos_) out.push_back(*bos_);
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  if (hf_) return hf_->decode(ids, true);
  std::vector<int> v;
  for (int32_t id : ids)
    if (!bos_ || id != *bos_) v.push_back(id);
  std::string text;
  sp_->Decode(v, &text);
  return text;
}

bool Tokenizer::is_eos(int32_t id) const {
  return std::find(eos_.begin(), eos_.end(), id) != eos_.end();
}

int64_t Tokenizer::vocab_size() const {
  return hf_ ? hf_->vocab_size() : sp_->GetPieceSize();
}

std::string Tokenizer::token_text(int32_t id) const {
  if (hf_) return hf_->token_text(id);
  if (id < 0 || id >= sp_->GetPieceSize()) return {};
  return sp_->IdToPiece(id);
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (hf_) {
    const std::string text = hf_->decode({id}, false);
    return text;
  }
  if (id < 0 || id >= sp_->GetPieceSize()) return {};
  if (sp_->IsByte(id)) {  // "<0x0A>"
    const std::string piece = sp_->IdToPiece(id);
    return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
  }
  if (sp_->IsControl(id) || sp_->IsUnknown(id)) return sp_->IdToPiece(id);
  std::string piece = sp_->IdToPiece(id);
  static const std::string kSpace = "\xe2\x96\x81";  // ▁
  for (size_t at; (at = piece.find(kSpace)) != std::string::npos;) piece.replace(at, 3, " ");
  return piece;
}

std::vector<int32_t> parse_token_list(const std::string& s, const std::string& flag) {
  std::vector<int32_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int32_t v = 0;
    const auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || p != item.data() + item.size())
      fail(ErrorKind::kInvalidArgument, flag + ": '" + item + "' is not a token id");
    out.push_back(v);
  }
  if (out.empty())
    fail(ErrorKind::kInvalidArgument, flag + " is empty: give ids such as 1,450,4996");
  return out;
}

}  // namespace gqa::tok

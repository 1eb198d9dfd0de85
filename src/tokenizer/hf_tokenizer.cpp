#include "tokenizer/hf_tokenizer.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_parse.h"
#include "core/text_file.h"
#include "tokenizer/unicode_text.h"

namespace gqa::tok {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The post-processor as a template over one sequence: special ids and -1 for the text.
void parse_post_processor(const json& j, std::vector<int32_t>& out) {
  if (j.is_null()) {
    out = {-1};
    return;
  }
  const std::string type = j.value("type", "");
  if (type == "ByteLevel") {  // offsets only
    if (out.empty()) out = {-1};
    return;
  }
  if (type == "Sequence") {
    out = {-1};
    for (const auto& p : j.at("processors")) {
      std::vector<int32_t> inner;
      parse_post_processor(p, inner);
      if (inner != std::vector<int32_t>{-1}) out = inner;
    }
    return;
  }
  if (type == "TemplateProcessing") {
    out.clear();
    const json& special = j.value("special_tokens", json::object());
    for (const auto& item : j.at("single")) {
      if (item.contains("Sequence")) {
        out.push_back(-1);
      } else if (item.contains("SpecialToken")) {
        const std::string name = item["SpecialToken"].value("id", "");
        if (!special.contains(name) || !special[name].contains("ids"))
          fail(ErrorKind::kParse,
               "TemplateProcessing names an unknown special token '" + name + "'");
        for (const auto& id : special[name]["ids"]) out.push_back(id.get<int32_t>());
      }
    }
    return;
  }
  fail(ErrorKind::kUnsupported, "tokenizer.json: post_processor '" + type + "' is not supported");
}

// transformers' clean_up_tokenization: spaces before punctuation and contractions.
std::string clean_up_spaces(std::string s) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    std::string out;
    size_t at = 0;
    for (size_t f; (f = s.find(from, at)) != std::string::npos; at = f + from.size())
      out.append(s, at, f - at).append(to);
    out.append(s, at);
    s = std::move(out);
  }
  return s;
}

// bos_token / eos_token: a string or {"content": ...}.
std::optional<std::string> config_token(const json& cfg, const char* key) {
  if (!cfg.contains(key)) return std::nullopt;
  const json& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return std::nullopt;
}

// tokenizer.json as a tree without model.vocab and model.merges, whose entries go to `tables`
// as the parser reads them (a parse callback that keeps them out of the tree): Gemma 3's 262,144
// tokens and 514,906 merges are never held as JSON objects.
json parse_without_tables(std::string_view text, BpeTables& tables) {
  using E = json::parse_event_t;
  std::vector<std::string> keys(8);  // the last key read at each depth up to 7
  std::string token;                 // the vocab key whose id comes next
  bool in_vocab = false, in_merges = false;
  const auto at = [&](int depth, const char* k1, const char* k2) {
    return depth == 2 && keys[1] == k1 && keys[2] == k2;
  };
  json::parser_callback_t cb = [&](int depth, E event, json& parsed) {
    if (event == E::key && depth < static_cast<int>(keys.size())) {
      if (in_vocab && depth == 3) {
        token = std::move(parsed.get_ref<std::string&>());
        return false;
      }
      keys[static_cast<size_t>(depth)] = parsed.get<std::string>();
      for (size_t d = static_cast<size_t>(depth) + 1; d < keys.size(); ++d) keys[d].clear();
      return true;
    }
    if (event == E::object_start && at(depth, "model", "vocab")) {
      in_vocab = tables.has_vocab = true;
    } else if (event == E::array_start && at(depth, "model", "merges")) {
      in_merges = tables.has_merges = true;
    } else if (in_vocab && depth == 2 && event == E::object_end) {
      in_vocab = false;
    } else if (in_merges && depth == 2 && event == E::array_end) {
      in_merges = false;
    } else if (in_vocab && depth == 3 && event == E::value) {
      tables.vocab.emplace_back(std::move(token), parsed.is_number_integer() ? parsed.get<int64_t>()
                                                                             : BpeTables::kNotAnId);
      return false;
    } else if (in_vocab && depth == 3 && (event == E::object_start || event == E::array_start)) {
      // Its key was dropped, so the parser drops the container unseen: record it here.
      tables.vocab.emplace_back(std::move(token), BpeTables::kNotAnId);
      return false;
    } else if (in_merges && depth == 3 &&
               (event == E::value || event == E::object_end || event == E::array_end)) {
      add_merge(parsed, tables);
      return false;
    }
    return true;
  };
  return json::parse(text, cb);
}

}  // namespace

bool has_hf_tokenizer(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "tokenizer.json", ec);
}

HfTokenizer::HfTokenizer(const fs::path& dir) {
  const fs::path cfg = dir / "tokenizer_config.json";
  std::error_code ec;
  load(read_text_file(dir / "tokenizer.json", kMaxTokenizerFileBytes),
       fs::exists(cfg, ec) ? read_text_file(cfg, kMaxTokenizerFileBytes) : std::string(),
       (dir / "tokenizer.json").string());
}

HfTokenizer::HfTokenizer(std::string_view tokenizer_json, std::string_view config_json,
                         const std::string& source) {
  load(tokenizer_json, config_json, source);
}

void HfTokenizer::load(std::string_view text, std::string_view config_text,
                       const std::string& source) {
  try {
    if (json_depth(text) > kMaxJsonDepth)
      fail(ErrorKind::kParse,
           "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    BpeTables tables;
    const json j = parse_without_tables(text, tables);
    if (!j.is_object() || !j.contains("model")) fail(ErrorKind::kParse, "no \"model\" object");
    bpe_ = std::make_unique<BpeModel>(j["model"], std::move(tables));
    normalizer_ = make_normalizer(j.value("normalizer", json()));
    added_ = std::make_unique<AddedVocabulary>(j.value("added_tokens", json::array()), normalizer_);
    auto added_text = std::make_shared<std::unordered_set<std::string>>();
    const int64_t limit =
        token_id_limit(bpe_->vocab_size() + static_cast<int64_t>(added_->tokens().size()));
    for (const AddedToken& t : added_->tokens())
      if (t.id >= limit)
        fail(ErrorKind::kParse, "added token '" + t.content.substr(0, 64) + "' has id " +
                                    std::to_string(t.id) + ", far past the file's " +
                                    std::to_string(bpe_->vocab_size()) + " tokens");
    for (const AddedToken& t : added_->tokens()) {
      bpe_->add_decoding(t.id, t.content);
      added_text->insert(t.content);
      if (t.special) special_ids_.insert(t.id);
    }
    pre_tokenizer_ = make_pre_tokenizer(j.value("pre_tokenizer", json()));
    decoder_ = make_decoder(j.value("decoder", json()), added_text);
    parse_post_processor(j.value("post_processor", json()), template_);
    if (!config_text.empty()) {
      if (json_depth(config_text) > kMaxJsonDepth)
        fail(ErrorKind::kParse, "tokenizer_config.json nests deeper than " +
                                    std::to_string(kMaxJsonDepth) + " levels");
      const json cfg = json::parse(config_text);
      clean_up_spaces_ = cfg.value("clean_up_tokenization_spaces", true);
      if (const auto b = config_token(cfg, "bos_token")) bos_ = token_id(*b);
      if (const auto e = config_token(cfg, "eos_token")) eos_ = token_id(*e);
    }
  } catch (const json::exception& e) {
    fail(ErrorKind::kParse, source + ": malformed JSON: " + e.what());
  } catch (const Error& e) {
    fail(e.kind(), source + ": " + e.what());
  }
}

std::optional<int32_t> HfTokenizer::token_id(std::string_view token) const {
  if (const AddedToken* t = added_->find(token)) return t->id;
  return bpe_->id_of(token);
}

std::string HfTokenizer::token_text(int32_t id) const {
  const std::string* s = bpe_->token_of(id);
  return s ? *s : std::string();
}

std::vector<int32_t> HfTokenizer::encode(std::string_view raw, bool add_special,
                                         bool special_text) const {
  const AddedVocabulary::Ranges nowhere;
  return encode_text(sanitize_utf8(raw), special_text ? nullptr : &nowhere, add_special);
}

std::vector<int32_t> HfTokenizer::encode_parts(std::span<const TextPart> parts,
                                               bool add_special) const {
  std::string text;
  AddedVocabulary::Ranges special_ok;
  for (const TextPart& p : parts) {
    // Each part is repaired on its own, so the ranges are byte ranges of the repaired text.
    const std::string clean = sanitize_utf8(p.text);
    if (p.special_text) special_ok.emplace_back(text.size(), text.size() + clean.size());
    text += clean;
  }
  return encode_text(text, &special_ok, add_special);
}

std::vector<int32_t> HfTokenizer::encode_text(const std::string& text,
                                              const AddedVocabulary::Ranges* special_ok,
                                              bool add_special) const {
  std::vector<int32_t> ids;
  // Raw-text tokens first, then the normalized tokens in each normalized plain section; what
  // is left is pre-tokenized and encoded a section at a time.
  const auto sections = added_->split(text, special_ok, AddedVocabulary::Pass::kRaw);
  for (size_t s = 0; s < sections.size(); ++s) {
    const auto& sec = sections[s];
    if (sec.token) {
      ids.push_back(sec.token->id);
      continue;
    }
    if (sec.text.empty()) continue;
    std::string norm = normalizer_(sec.text);
    if (norm.empty()) continue;
    if (!added_->has_normalized_tokens()) {
      for (const std::string& word : pre_tokenizer_({std::move(norm)}, static_cast<int>(s)))
        bpe_->encode_word(word, ids);
      continue;
    }
    // Special normalized tokens count as allowed here when the whole raw section is.
    const bool special_here =
        !special_ok || std::any_of(special_ok->begin(), special_ok->end(), [&](const auto& r) {
          return sec.begin >= r.first && sec.begin + sec.text.size() <= r.second;
        });
    const AddedVocabulary::Ranges everywhere{{0, norm.size()}}, nowhere;
    const auto parts = added_->split(norm, special_here ? &everywhere : &nowhere,
                                     AddedVocabulary::Pass::kNormalized);
    for (size_t p = 0; p < parts.size(); ++p) {
      if (parts[p].token) {
        ids.push_back(parts[p].token->id);
      } else if (!parts[p].text.empty()) {
        const int section = s == 0 && p == 0 ? 0 : 1;  // Metaspace "first": the very start only
        for (const std::string& word : pre_tokenizer_({parts[p].text}, section))
          bpe_->encode_word(word, ids);
      }
    }
  }
  return post_process(std::move(ids), add_special);
}

std::vector<int32_t> HfTokenizer::post_process(std::vector<int32_t> ids, bool add_special) const {
  if (!add_special) return ids;
  std::vector<int32_t> out;
  for (int32_t t : template_) {
    if (t < 0)
      out.insert(out.end(), ids.begin(), ids.end());
    else
      out.push_back(t);
  }
  return out;
}

std::string HfTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (skip_special && special_ids_.contains(id)) continue;
    const std::string* s = bpe_->token_of(id);
    if (!s)
      fail(ErrorKind::kInvalidArgument,
           "token id " + std::to_string(id) + " is outside the vocabulary");
    tokens.push_back(*s);
  }
  std::string text;
  for (const auto& piece : decoder_(std::move(tokens))) text += piece;
  return clean_up_spaces_ ? clean_up_spaces(std::move(text)) : text;
}

}  // namespace gqa::tok

#include "tokenizer/bpe.h"

#include <fmt/format.h>

#include <algorithm>
#include <queue>

#include "core/error.h"
#include "tokenizer/unicode_text.h"

namespace gqa::tok {
namespace {

constexpr size_t kCacheWords = 200000;  // cleared when full

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

std::string string_or_empty(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? std::string() : it->get<std::string>();
}

}  // namespace

int64_t token_id_limit(int64_t entries) {
  return std::min<int64_t>(int64_t{1} << 30, 4 * entries + 1024);
}

void add_merge(const nlohmann::json& entry, BpeTables& tables) {
  if (entry.is_string()) {  // "a b"
    const std::string& s = entry.get_ref<const std::string&>();
    const size_t sp = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
    if (sp != std::string::npos) {
      tables.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      return;
    }
  } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
             entry[1].is_string()) {  // ["a", "b"]
    tables.merges.emplace_back(entry[0].get<std::string>(), entry[1].get<std::string>());
    return;
  }
  if (tables.bad_merge < 0) tables.bad_merge = static_cast<int64_t>(tables.merges.size());
  tables.merges.emplace_back();
}

namespace {

BpeTables tables_of(const nlohmann::json& m) {
  BpeTables t;
  if (const auto v = m.find("vocab"); v != m.end() && v->is_object()) {
    t.has_vocab = true;
    for (const auto& [token, id] : v->items())
      t.vocab.emplace_back(token, id.is_number_integer() ? id.get<int64_t>() : BpeTables::kNotAnId);
  }
  if (const auto merges = m.find("merges"); merges != m.end() && merges->is_array()) {
    t.has_merges = true;
    for (const auto& entry : *merges) add_merge(entry, t);
  }
  return t;
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& m) : BpeModel(m, tables_of(m)) {}

BpeModel::BpeModel(const nlohmann::json& m, BpeTables t) {
  if (m.value("type", "BPE") != "BPE")
    fail(ErrorKind::kUnsupported,
         "tokenizer.json model type '" + m.value("type", "") + "' (only BPE is supported)");
  if (!t.has_vocab) fail(ErrorKind::kParse, "tokenizer.json: model.vocab is missing");
  // Ids index a table: each is checked as int64 against what the file defines before any is
  // used, so a 9 KB file cannot ask for gigabytes.
  const int64_t limit = token_id_limit(static_cast<int64_t>(t.vocab.size()));
  for (const auto& [token, id] : t.vocab) {
    if (id < 0 || id >= limit)
      fail(ErrorKind::kParse, "tokenizer.json: token '" + token.substr(0, 64) + "' has id " +
                                  (id == BpeTables::kNotAnId ? std::string("that is not an integer")
                                                             : std::to_string(id)) +
                                  ", not one of the " + std::to_string(limit) + " ids that its " +
                                  std::to_string(t.vocab.size()) + " tokens allow");
  }
  vocab_.reserve(t.vocab.size());
  for (auto& [token, id] : t.vocab) add_token(static_cast<int32_t>(id), std::move(token));
  t.vocab = {};
  byte_fallback_ = m.value("byte_fallback", false);
  ignore_merges_ = m.value("ignore_merges", false);
  fuse_unk_ = m.value("fuse_unk", false);
  prefix_ = string_or_empty(m, "continuing_subword_prefix");
  suffix_ = string_or_empty(m, "end_of_word_suffix");
  if (const std::string unk = string_or_empty(m, "unk_token"); !unk.empty()) unk_ = id_of(unk);
  if (byte_fallback_) {
    for (int b = 0; b < 256; ++b) {
      const auto id = id_of(fmt::format("<0x{:02X}>", b));
      if (!id) {
        byte_ids_.clear();
        break;
      }
      byte_ids_.push_back(*id);
    }
  }
  if (!t.has_merges) fail(ErrorKind::kParse, "tokenizer.json: model.merges is missing");
  if (t.bad_merge >= 0)
    fail(ErrorKind::kParse, "tokenizer.json: merge " + std::to_string(t.bad_merge) +
                                " is malformed (neither \"a b\" nor [\"a\", \"b\"])");
  merges_.reserve(t.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < t.merges.size(); ++rank) {
    const auto& [a, b] = t.merges[rank];
    joined.assign(a);
    joined.append(b.rfind(prefix_, 0) == 0 ? std::string_view(b).substr(prefix_.size())
                                           : std::string_view(b));
    const auto ia = id_of(a), ib = id_of(b), im = id_of(joined);
    if (!ia || !ib || !im)
      fail(ErrorKind::kParse,
           "tokenizer.json: merge " + std::to_string(rank) + " uses tokens not in the vocabulary");
    merges_.try_emplace(pair_key(*ia, *ib), Merge{static_cast<int32_t>(rank), *im});
  }
}

void BpeModel::add_token(int32_t id, std::string content) {
  if (static_cast<size_t>(id) >= tokens_.size()) tokens_.resize(static_cast<size_t>(id) + 1);
  tokens_[static_cast<size_t>(id)] = content;
  vocab_.emplace(std::move(content), id);
}

void BpeModel::add_decoding(int32_t id, const std::string& content) {
  if (static_cast<size_t>(id) >= tokens_.size()) tokens_.resize(static_cast<size_t>(id) + 1);
  tokens_[static_cast<size_t>(id)] = content;
}

std::optional<int32_t> BpeModel::id_of(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::token_of(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return nullptr;
  return &tokens_[static_cast<size_t>(id)];
}

// One symbol per character (with the subword prefix after the first and the word suffix on
// the last); a character outside the vocabulary becomes its bytes (byte_fallback) or unk.
void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& out) const {
  bool last_unk = false;
  for (size_t i = 0; i < word.size();) {
    const auto n = static_cast<size_t>(utf8_length(static_cast<unsigned char>(word[i])));
    std::string piece(word.substr(i, n));
    if (i > 0) piece = prefix_ + piece;
    if (i + n >= word.size()) piece += suffix_;
    i += n;
    if (const auto id = id_of(piece)) {
      out.push_back(*id);
      last_unk = false;
      continue;
    }
    if (!byte_ids_.empty()) {
      for (unsigned char b : word.substr(i - n, n)) out.push_back(byte_ids_[b]);
      last_unk = false;
      continue;
    }
    if (!unk_) continue;  // no unk token: the character is dropped, as HF does
    if (!(fuse_unk_ && last_unk)) out.push_back(*unk_);
    last_unk = true;
  }
}

// Merges the lowest-ranked adjacent pair (leftmost on ties) until no pair has a merge.
void BpeModel::merge_symbols(std::vector<int32_t>& sym) const {
  const auto n = static_cast<int64_t>(sym.size());
  if (n < 2) return;
  std::vector<int64_t> prev(static_cast<size_t>(n)), next(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    prev[static_cast<size_t>(i)] = i - 1;
    next[static_cast<size_t>(i)] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int64_t pos;
    int32_t left, right;  // the ids the pair had when queued (stale entries are skipped)
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto push = [&](int64_t i) {
    if (i < 0) return;
    const int64_t j = next[static_cast<size_t>(i)];
    if (j < 0) return;
    const auto it =
        merges_.find(pair_key(sym[static_cast<size_t>(i)], sym[static_cast<size_t>(j)]));
    if (it != merges_.end())
      queue.push({it->second.rank, i, sym[static_cast<size_t>(i)], sym[static_cast<size_t>(j)]});
  };
  for (int64_t i = 0; i + 1 < n; ++i) push(i);
  std::vector<bool> dead(static_cast<size_t>(n), false);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const auto i = static_cast<size_t>(c.pos);
    const int64_t j = next[i];
    if (dead[i] || j < 0 || sym[i] != c.left || sym[static_cast<size_t>(j)] != c.right) continue;
    sym[i] = merges_.at(pair_key(c.left, c.right)).merged;
    dead[static_cast<size_t>(j)] = true;
    next[i] = next[static_cast<size_t>(j)];
    if (next[i] >= 0) prev[static_cast<size_t>(next[i])] = c.pos;
    push(prev[i]);
    push(c.pos);
  }
  std::vector<int32_t> out;
  for (int64_t i = 0; i >= 0; i = next[static_cast<size_t>(i)])
    out.push_back(sym[static_cast<size_t>(i)]);
  sym = std::move(out);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_)
    if (const auto id = id_of(word)) {
      out.push_back(*id);
      return;
    }
  const std::string key(word);
  {
    std::lock_guard lock(cache_mutex_);
    if (const auto it = cache_.find(key); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> sym;
  initial_symbols(word, sym);
  merge_symbols(sym);
  out.insert(out.end(), sym.begin(), sym.end());
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= kCacheWords) cache_.clear();
  cache_.emplace(key, std::move(sym));
}

}  // namespace gqa::tok

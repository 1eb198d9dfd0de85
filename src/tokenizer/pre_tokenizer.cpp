#include "tokenizer/pre_tokenizer.h"

#include <memory>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pattern.h"
#include "tokenizer/regex.h"

namespace gqa::tok {
namespace {

// GPT-2's pre-tokenization regex (ByteLevel with use_regex).
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Behavior parse_behavior(const std::string& b) {
  if (b == "Removed") return Behavior::kRemoved;
  if (b == "Isolated") return Behavior::kIsolated;
  if (b == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::kMergedWithNext;
  if (b == "Contiguous") return Behavior::kContiguous;
  fail(ErrorKind::kUnsupported, "tokenizer.json: Split behavior '" + b + "' is not supported");
}

// Splits `s` at the matches of `re`, as the tokenizers library's split(pattern, behavior).
void split(const std::string& s, const Regex& re, Behavior behavior, bool invert,
           std::vector<std::string>& out) {
  struct Segment {
    size_t b, e;
    bool match;
  };
  std::vector<Segment> segs;
  size_t at = 0;
  for (const auto& [b, e] : re.find_all(s)) {
    if (b > at) segs.push_back({at, b, invert});
    segs.push_back({b, e, !invert});
    at = e;
  }
  if (at < s.size()) segs.push_back({at, s.size(), invert});
  std::vector<std::string> pieces;
  bool prev_match = false;
  for (size_t i = 0; i < segs.size(); ++i) {
    const Segment& g = segs[i];
    std::string text = s.substr(g.b, g.e - g.b);
    switch (behavior) {
      case Behavior::kRemoved:
        if (!g.match) pieces.push_back(std::move(text));
        break;
      case Behavior::kIsolated:
        pieces.push_back(std::move(text));
        break;
      case Behavior::kMergedWithPrevious:
        if (g.match && !pieces.empty() && !prev_match)
          pieces.back() += text;
        else
          pieces.push_back(std::move(text));
        break;
      case Behavior::kMergedWithNext:
        if (prev_match && !pieces.empty())
          pieces.back() += text;
        else
          pieces.push_back(std::move(text));
        break;
      case Behavior::kContiguous:
        if (g.match && prev_match && !pieces.empty())
          pieces.back() += text;
        else
          pieces.push_back(std::move(text));
        break;
    }
    prev_match = g.match;
  }
  for (auto& p : pieces)
    if (!p.empty()) out.push_back(std::move(p));
}

template <class F>
PreTokenizer each_piece(F f) {
  return [f](std::vector<std::string> in, int section) {
    std::vector<std::string> out;
    for (auto& piece : in) f(std::move(piece), section, out);
    return out;
  };
}

}  // namespace

PreTokenizer make_pre_tokenizer(const nlohmann::json& j) {
  if (j.is_null()) return [](std::vector<std::string> in, int) { return in; };
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    std::vector<PreTokenizer> parts;
    for (const auto& p : j.at("pretokenizers")) parts.push_back(make_pre_tokenizer(p));
    return [parts](std::vector<std::string> in, int section) {
      for (const auto& p : parts) in = p(std::move(in), section);
      return in;
    };
  }
  if (type == "Split") {
    std::shared_ptr<const Regex> re = compile_pattern(j.at("pattern"));
    const Behavior behavior = parse_behavior(j.value("behavior", "Isolated"));
    const bool invert = j.value("invert", false);
    return each_piece([re, behavior, invert](std::string s, int, std::vector<std::string>& out) {
      split(s, *re, behavior, invert, out);
    });
  }
  if (type == "ByteLevel") {
    const bool prefix = j.value("add_prefix_space", false);
    const bool use_regex = j.value("use_regex", true);
    auto re = std::make_shared<Regex>(kGpt2Pattern);
    return each_piece([prefix, use_regex, re](std::string s, int, std::vector<std::string>& out) {
      if (prefix && !s.starts_with(' ')) s.insert(0, 1, ' ');
      std::vector<std::string> words;
      if (use_regex)
        split(s, *re, Behavior::kIsolated, false, words);
      else
        words.push_back(std::move(s));
      for (const auto& w : words) out.push_back(bytes_to_byte_level(w));
    });
  }
  if (type == "Metaspace") {
    const std::string rep = j.value("replacement", "\u2581");
    std::string scheme = j.value("prepend_scheme", "");
    if (scheme.empty()) scheme = j.value("add_prefix_space", true) ? "always" : "never";
    const bool do_split = j.value("split", true);
    auto space = std::make_shared<Regex>(" ");
    auto marker = std::make_shared<Regex>(regex_escape(rep));
    return each_piece([=](std::string s, int section, std::vector<std::string>& out) {
      s = replace_all(s, *space, rep);
      if ((scheme == "always" || (scheme == "first" && section == 0)) && !s.starts_with(rep))
        s = rep + s;
      if (do_split)
        split(s, *marker, Behavior::kMergedWithNext, false, out);
      else
        out.push_back(std::move(s));
    });
  }
  if (type == "Digits") {
    auto re =
        std::make_shared<Regex>(j.value("individual_digits", false) ? R"(\p{Nd})" : R"(\p{Nd}+)");
    return each_piece([re](std::string s, int, std::vector<std::string>& out) {
      split(s, *re, Behavior::kIsolated, false, out);
    });
  }
  if (type == "Whitespace") {
    auto re = std::make_shared<Regex>(R"(\w+|[^\w\s]+)");
    return each_piece([re](std::string s, int, std::vector<std::string>& out) {
      split(s, *re, Behavior::kRemoved, true, out);  // inverted: keep only the matches
    });
  }
  if (type == "WhitespaceSplit") {
    auto re = std::make_shared<Regex>(R"(\s+)");
    return each_piece([re](std::string s, int, std::vector<std::string>& out) {
      split(s, *re, Behavior::kRemoved, false, out);
    });
  }
  fail(ErrorKind::kUnsupported, "tokenizer.json: pre_tokenizer '" + type + "' is not supported");
}

}  // namespace gqa::tok

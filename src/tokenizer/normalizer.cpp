#include "tokenizer/normalizer.h"

#include <memory>
#include <vector>

#include "core/error.h"
#include "tokenizer/pattern.h"
#include "tokenizer/unicode_lowercase.h"
#include "tokenizer/unicode_text.h"

namespace gqa::tok {

Normalizer make_normalizer(const nlohmann::json& j) {
  if (j.is_null()) return [](std::string s) { return s; };
  const std::string type = j.value("type", "");
  if (type == "NFC") return [](std::string s) { return normalize(s, NormalForm::kNFC); };
  if (type == "NFD") return [](std::string s) { return normalize(s, NormalForm::kNFD); };
  if (type == "NFKC") return [](std::string s) { return normalize(s, NormalForm::kNFKC); };
  if (type == "NFKD") return [](std::string s) { return normalize(s, NormalForm::kNFKD); };
  if (type == "Replace") {
    auto re = compile_pattern(j.at("pattern"));
    const std::string with = j.value("content", "");
    return [re, with](std::string s) { return replace_all(s, *re, with); };
  }
  if (type == "Prepend") {
    const std::string pre = j.value("prepend", "");
    return [pre](std::string s) { return s.empty() ? s : pre + s; };
  }
  // Each code point on its own, Unicode 17.0 (tokenizer/unicode_lowercase.h).
  if (type == "Lowercase") return [](std::string s) { return lowercase(s); };
  if (type == "Strip") {  // Unicode White_Space, as the library's trim
    const bool left = j.value("strip_left", true), right = j.value("strip_right", true);
    return [left, right](std::string s) {
      if (right) s.resize(s.size() - trailing_white_space(s));
      if (left) s.erase(0, leading_white_space(s));
      return s;
    };
  }
  if (type == "Sequence") {
    std::vector<Normalizer> parts;
    for (const auto& n : j.at("normalizers")) parts.push_back(make_normalizer(n));
    return [parts](std::string s) {
      for (const auto& n : parts) s = n(std::move(s));
      return s;
    };
  }
  fail(ErrorKind::kUnsupported, "tokenizer.json: normalizer '" + type + "' is not supported");
}

}  // namespace gqa::tok

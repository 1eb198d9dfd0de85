#include "tokenizer/normalizer.h"

#include <unicode/unistr.h>

#include <memory>
#include <vector>

#include "core/error.h"
#include "tokenizer/pattern.h"
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
  if (type == "Lowercase")
    return [](std::string s) {
      std::string out;
      icu::UnicodeString::fromUTF8(s).toLower().toUTF8String(out);
      return out;
    };
  if (type == "Strip") {
    const bool left = j.value("strip_left", true), right = j.value("strip_right", true);
    return [left, right](std::string s) {
      const char* ws = " \t\n\r\f\v";
      if (right) s.erase(s.find_last_not_of(ws) + 1);
      if (left) s.erase(0, std::min(s.size(), s.find_first_not_of(ws)));
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

#include "tokenizer/decoder.h"

#include <memory>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pattern.h"
#include "tokenizer/unicode_text.h"

namespace gqa::tok {
namespace {

// "<0xAB>" -> 0xAB, else -1.
int byte_token(const std::string& t) {
  if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = t[static_cast<size_t>(i)];
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                         : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

Decoder make_decoder(const nlohmann::json& j,
                     std::shared_ptr<const std::unordered_set<std::string>> added) {
  using Tokens = std::vector<std::string>;
  if (j.is_null()) return [](Tokens t) { return t; };
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    std::vector<Decoder> parts;
    for (const auto& d : j.at("decoders")) parts.push_back(make_decoder(d, added));
    return [parts](Tokens t) {
      for (const auto& d : parts) t = d(std::move(t));
      return t;
    };
  }
  if (type == "ByteLevel")
    return [added](Tokens t) {
      // Runs of ordinary tokens are turned back into bytes together; added tokens are text.
      Tokens out;
      std::string run;
      auto flush = [&] {
        if (!run.empty()) out.push_back(sanitize_utf8(byte_level_to_bytes(run)));
        run.clear();
      };
      for (auto& s : t) {
        if (added->contains(s)) {
          flush();
          out.push_back(std::move(s));
        } else {
          run += s;
        }
      }
      flush();
      return out;
    };
  if (type == "ByteFallback")
    return [](Tokens t) {
      Tokens out;
      std::string bytes;
      auto flush = [&] {
        if (!bytes.empty()) out.push_back(sanitize_utf8(bytes));
        bytes.clear();
      };
      for (auto& s : t) {
        if (const int b = byte_token(s); b >= 0) {
          bytes += static_cast<char>(b);
        } else {
          flush();
          out.push_back(std::move(s));
        }
      }
      flush();
      return out;
    };
  if (type == "Fuse")
    return [](Tokens t) {
      std::string all;
      for (const auto& s : t) all += s;
      return Tokens{all};
    };
  if (type == "Replace") {
    auto re = compile_pattern(j.at("pattern"));
    const std::string with = j.value("content", "");
    return [re, with](Tokens t) {
      for (auto& s : t) s = replace_all(s, *re, with);
      return t;
    };
  }
  if (type == "Strip") {
    const std::string content = j.value("content", " ");
    const int start = j.value("start", 0), stop = j.value("stop", 0);
    return [content, start, stop](Tokens t) {
      for (auto& s : t) {
        for (int i = 0; i < start && s.starts_with(content); ++i) s.erase(0, content.size());
        for (int i = 0; i < stop && s.ends_with(content); ++i) s.resize(s.size() - content.size());
      }
      return t;
    };
  }
  if (type == "Metaspace") {
    const std::string rep = j.value("replacement", "\u2581");
    std::string scheme = j.value("prepend_scheme", "");
    if (scheme.empty()) scheme = j.value("add_prefix_space", true) ? "always" : "never";
    auto marker = std::make_shared<Regex>(regex_escape(rep));
    return [marker, scheme](Tokens t) {
      for (size_t i = 0; i < t.size(); ++i) {
        t[i] = replace_all(t[i], *marker, " ");
        if (i == 0 && scheme != "never" && t[i].starts_with(' ')) t[i].erase(0, 1);
      }
      return t;
    };
  }
  fail(ErrorKind::kUnsupported, "tokenizer.json: decoder '" + type + "' is not supported");
}

}  // namespace gqa::tok

#include "tokenizer/pattern.h"

#include "core/error.h"

namespace gqa::tok {

std::shared_ptr<const Regex> compile_pattern(const nlohmann::json& p) {
  if (p.is_object() && p.contains("String") && p["String"].is_string())
    return std::make_shared<Regex>(regex_escape(p["String"].get<std::string>()));
  if (p.is_object() && p.contains("Regex") && p["Regex"].is_string())
    return std::make_shared<Regex>(p["Regex"].get<std::string>());
  fail(ErrorKind::kParse, "tokenizer.json: a pattern is neither {\"String\"} nor {\"Regex\"}");
}

std::string replace_all(std::string_view s, const Regex& re, std::string_view with) {
  std::string out;
  size_t at = 0;
  for (const auto& [b, e] : re.find_all(s)) {
    out.append(s.substr(at, b - at));
    out.append(with);
    at = e;
  }
  out.append(s.substr(at));
  return out;
}

}  // namespace gqa::tok

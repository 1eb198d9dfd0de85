#include "core/json_parse.h"

#include "core/error.h"

namespace gqa {

int json_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return limit + 1;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

nlohmann::json parse_json(std::string_view text, const std::string& source) {
  if (json_depth(text) > kMaxJsonDepth)
    fail(ErrorKind::kParse,
         source + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 2: ...":
    // keep the part after the library's tag. Besides syntax errors: a number out of range
    // (1e99999, found by fuzz_safetensors).
    std::string why = e.what();
    if (const auto at = why.find("] "); at != std::string::npos) why = why.substr(at + 2);
    const auto* pe = dynamic_cast<const nlohmann::json::parse_error*>(&e);
    fail(ErrorKind::kParse, source + ": malformed JSON" +
                                (pe ? " at byte " + std::to_string(pe->byte) : std::string()) +
                                " (" + why + ")");
  }
}

}  // namespace gqa

#pragma once
// Parsing JSON from files that strangers wrote: nesting deeper than any real file is refused
// before the parser builds anything (nested documents are copied and destroyed recursively),
// and errors become gqa::Error with a message of ours that names the file and the byte.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gqa {

// Far above any real config.json, tokenizer.json or API request (they nest fewer than 10 deep).
inline constexpr int kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text` (strings skipped, escapes honoured). A
// linear scan that stops once past `limit`, returning limit + 1.
int json_depth(std::string_view text, int limit = kMaxJsonDepth);

// Parses `text`. Throws Error (kParse) "SOURCE: malformed JSON at byte N (...)" or "SOURCE: JSON
// nested deeper than 64 levels".
nlohmann::json parse_json(std::string_view text, const std::string& source);

}  // namespace gqa

#pragma once
// The {"String": s} / {"Regex": r} patterns of tokenizer.json, as one compiled regex, and the
// replace-all they are used for.
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/regex.h"

namespace gqa::tok {

// Throws Error when the object is neither form or the regex does not compile.
std::shared_ptr<const Regex> compile_pattern(const nlohmann::json& pattern);
std::string replace_all(std::string_view s, const Regex& re, std::string_view with);

}  // namespace gqa::tok

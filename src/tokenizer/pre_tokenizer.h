#pragma once
// tokenizer.json pre-tokenizers: Split (regex or string; behaviours Removed, Isolated,
// MergedWithPrevious, MergedWithNext, Contiguous; invert), ByteLevel (GPT-2's regex and byte
// alphabet), Metaspace, Digits, Whitespace, WhitespaceSplit and Sequence. Each takes the
// pieces so far and splits them further; `section` counts the text's parts between added
// tokens (Metaspace's prepend_scheme "first" prepends only in part 0).
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gqa::tok {

using PreTokenizer = std::function<std::vector<std::string>(std::vector<std::string>, int section)>;

// Throws Error naming an unsupported type or behaviour.
PreTokenizer make_pre_tokenizer(const nlohmann::json& j);

}  // namespace gqa::tok

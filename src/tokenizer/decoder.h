#pragma once
// tokenizer.json decoders, token strings -> text: ByteLevel, Metaspace, ByteFallback, Fuse,
// Strip, Replace and Sequence. Each maps the list of token strings to a new list; the text is
// their concatenation. Invalid UTF-8 from bytes becomes U+FFFD (as TextDecoder does).
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

namespace gqa::tok {

using Decoder = std::function<std::vector<std::string>(std::vector<std::string>)>;

// `added`: the added tokens' contents, which ByteLevel passes through as text. Throws Error
// naming an unsupported type.
Decoder make_decoder(const nlohmann::json& j,
                     std::shared_ptr<const std::unordered_set<std::string>> added);

}  // namespace gqa::tok

#pragma once
// tokenizer.json normalizers: NFC, NFD, NFKC, NFKD (ICU, 9.0 characters), Replace (string or
// regex), Prepend, Lowercase (per code point, 17.0), Strip (White_Space) and Sequence, as the
// Rust library does them. Built once from the JSON; null JSON is the identity.
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace gqa::tok {

using Normalizer = std::function<std::string(std::string)>;

// Throws Error naming an unsupported type.
Normalizer make_normalizer(const nlohmann::json& j);

}  // namespace gqa::tok

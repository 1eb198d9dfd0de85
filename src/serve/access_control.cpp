#include "serve/access_control.h"

#include <algorithm>

namespace gqa::serve {

bool needs_api_key(const std::string& path) {
  for (const char* guarded :
       {"/v1/completions", "/v1/chat/completions", "/v1/models", "/tokenize", "/detokenize"})
    if (path == guarded || path.rfind(std::string(guarded) + "/", 0) == 0) return true;
  return false;
}

bool key_matches(const std::string& authorization, const std::string& key) {
  const std::string want = "Bearer " + key;
  // No early exit on the first differing byte: the time does not tell how much matched.
  unsigned diff = authorization.size() == want.size() ? 0u : 1u;
  for (size_t i = 0; i < want.size(); ++i)
    diff |= static_cast<unsigned char>(want[i]) ^
            static_cast<unsigned char>(i < authorization.size() ? authorization[i] : 0);
  return diff == 0;
}

std::string allowed_origin(const AccessOptions& o, const std::string& origin) {
  if (origin.empty() || o.allowed_origins.empty()) return "";
  for (const std::string& a : o.allowed_origins) {
    if (a == "*") return "*";
    if (a == origin) return origin;
  }
  return "";
}

std::vector<std::string> parse_origins(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(',', start), list.size());
    std::string item = list.substr(start, end - start);
    const size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    if (a != std::string::npos) out.push_back(item.substr(a, b - a + 1));
    start = end + 1;
  }
  return out;
}

}  // namespace gqa::serve

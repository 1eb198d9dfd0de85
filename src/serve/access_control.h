#pragma once
// Who may call the server: an API key (gqa serve --api-key, or GQA_API_KEY) sent as
// "Authorization: Bearer KEY" on the routes that run the model, and CORS for the web pages of
// --allowed-origins. The planner page and its /v1/plan, /health and /metrics stay open, as
// llama-server and vLLM keep their health and metrics routes.
#include <string>
#include <vector>

namespace gqa::serve {

struct AccessOptions {
  std::string api_key;                       // empty: no key needed
  std::vector<std::string> allowed_origins;  // "*" allows any; empty: no CORS headers
};

// The routes a key guards: completions, chat, models, tokenize and detokenize.
bool needs_api_key(const std::string& path);
// Whether an Authorization header carries the key ("Bearer KEY"), compared in constant time.
bool key_matches(const std::string& authorization, const std::string& key);
// The Access-Control-Allow-Origin value for a request's Origin header, or "" when it is not
// allowed (or there is none).
std::string allowed_origin(const AccessOptions& o, const std::string& origin);
// "a.example, https://b.example" -> its items, trimmed; "" -> none.
std::vector<std::string> parse_origins(const std::string& list);

}  // namespace gqa::serve

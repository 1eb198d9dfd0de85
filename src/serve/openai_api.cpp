#include "serve/openai_api.h"
#include "core/json_parse.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace gqa::serve {

using nlohmann::json;

ApiError::ApiError(int status, std::string message, std::string type, std::string param,
                   std::string code)
    : std::runtime_error(std::move(message)),
      status(status),
      type(std::move(type)),
      param(std::move(param)),
      code(std::move(code)) {}

json ApiError::body() const {
  return {{"error",
           {{"message", what()},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

namespace {

// A seed for a request that gives none: 63 random bits from the OS (std::random_device reads
// /dev/urandom), so that five requests at temperature 1 sample five different texts.
uint64_t fresh_seed() {
  std::random_device rd;
  const uint64_t bits = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return bits >> 1;
}

[[noreturn]] void bad(const std::string& param, const std::string& message) {
  throw ApiError(400, message, "invalid_request_error", param);
}

// A field that is absent or null gives nothing; a present one must have the right type.
const json* field(const json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::optional<double> number(const json& j, const char* key, double lo, double hi) {
  const json* f = field(j, key);
  if (!f) return std::nullopt;
  if (!f->is_number()) bad(key, std::string("'") + key + "' must be a number");
  const double v = f->get<double>();
  if (!(v >= lo && v <= hi))
    bad(key, std::string("'") + key + "' must be between " + json(lo).dump() + " and " +
                 json(hi).dump() + ", got " + f->dump());
  return v;
}

std::optional<int64_t> integer(const json& j, const char* key, int64_t lo, int64_t hi) {
  const json* f = field(j, key);
  if (!f) return std::nullopt;
  if (!f->is_number_integer()) bad(key, std::string("'") + key + "' must be an integer");
  if (f->is_number_unsigned() && f->get<uint64_t>() > static_cast<uint64_t>(hi))
    bad(key, std::string("'") + key + "' must be at most " + std::to_string(hi));
  const auto v = f->get<int64_t>();
  if (v < lo || v > hi)
    bad(key, std::string("'") + key + "' must be between " + std::to_string(lo) + " and " +
                 std::to_string(hi) + ", got " + std::to_string(v));
  return v;
}

std::optional<bool> boolean(const json& j, const char* key) {
  const json* f = field(j, key);
  if (!f) return std::nullopt;
  if (!f->is_boolean()) bad(key, std::string("'") + key + "' must be true or false");
  return f->get<bool>();
}

std::string text_of(const json& content, const std::string& param) {
  if (content.is_string()) return content.get<std::string>();
  // [{"type": "text", "text": "..."}, ...]: the text parts, joined.
  if (content.is_array()) {
    std::string out;
    for (const json& part : content) {
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
          !part["text"].is_string())
        bad(param, "only text content parts are supported");
      out += part["text"].get<std::string>();
    }
    return out;
  }
  bad(param, "'" + param + "' must be a string or an array of text parts");
}

void refuse_unsupported(const json& j) {
  auto set = [&](const char* key) {
    const json* f = field(j, key);
    if (!f) return false;
    if (f->is_boolean()) return f->get<bool>();
    if (f->is_number()) return f->get<double>() != 0.0;
    if (f->is_string()) return !f->get<std::string>().empty();
    if (f->is_object() || f->is_array()) return !f->empty();
    return true;
  };
  // {"type": "text"} is what response_format means when absent.
  if (const json* f = field(j, "response_format");
      f && !(f->is_object() && f->size() == 1 && f->value("type", "") == "text"))
    bad("response_format", "'response_format' other than text is not supported by this server");
  for (const char* key : {"echo", "suffix", "presence_penalty", "frequency_penalty", "logit_bias",
                          "tools", "functions"})
    if (set(key)) bad(key, std::string("'") + key + "' is not supported by this server");
  if (const json* f = field(j, "best_of"); f && !(f->is_number_integer() && f->get<int64_t>() == 1))
    bad("best_of", "'best_of' other than 1 is not supported by this server");
}

}  // namespace

CompletionParams parse_completion(const std::string& body, bool chat) {
  if (json_depth(body) > kMaxJsonDepth)
    bad("", "the request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {  // syntax, or a number out of range (1e99999)
    bad("", std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) bad("", "the request body must be a JSON object");
  refuse_unsupported(j);
  CompletionParams p;
  p.chat = chat;
  if (const json* f = field(j, "model")) {
    if (!f->is_string()) bad("model", "'model' must be a string");
    p.model = f->get<std::string>();
  }
  if (chat) {
    const json* m = field(j, "messages");
    if (!m) bad("messages", "'messages' is required");
    if (!m->is_array() || m->empty()) bad("messages", "'messages' must be a non-empty array");
    for (size_t i = 0; i < m->size(); ++i) {
      const json& msg = (*m)[i];
      const std::string where = "messages[" + std::to_string(i) + "]";
      if (!msg.is_object()) bad(where, where + " must be an object");
      if (!msg.contains("role") || !msg["role"].is_string())
        bad(where + ".role", where + ".role must be a string");
      const std::string role = msg["role"].get<std::string>();
      if (role != "system" && role != "user" && role != "assistant" && role != "developer")
        bad(where + ".role",
            where + ".role '" + role + "' is not one of system, developer, user, assistant");
      if (!msg.contains("content") || msg["content"].is_null())
        bad(where + ".content", where + ".content is required");
      p.messages.push_back(
          {role == "developer" ? "system" : role, text_of(msg["content"], where + ".content")});
    }
  } else {
    const json* f = field(j, "prompt");
    if (!f) bad("prompt", "'prompt' is required");
    // Token ids of one prompt, or nothing when `t` is not a non-empty array of integers.
    auto token_ids = [](const json& t) -> std::optional<std::vector<int32_t>> {
      if (!t.is_array() || t.empty() || !t[0].is_number_integer()) return std::nullopt;
      std::vector<int32_t> ids;
      for (const json& x : t) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 ||
            x.get<int64_t>() > std::numeric_limits<int32_t>::max())
          bad("prompt", "a token-id prompt must hold non-negative integers");
        ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
      }
      return ids;
    };
    if (f->is_string()) {
      p.prompts.emplace_back(f->get<std::string>());
    } else if (auto ids = token_ids(*f)) {
      p.prompts.emplace_back(std::move(*ids));
    } else if (f->is_array() && !f->empty() && static_cast<int64_t>(f->size()) <= kMaxSequences) {
      for (const json& one : *f) {  // several prompts
        if (one.is_string())
          p.prompts.emplace_back(one.get<std::string>());
        else if (auto ids = token_ids(one))
          p.prompts.emplace_back(std::move(*ids));
        else
          bad("prompt", "each prompt of a 'prompt' array must be a string or token ids");
      }
    } else {
      bad("prompt", "'prompt' must be a string, token ids, or an array of at most " +
                        std::to_string(kMaxSequences) + " of them");
    }
  }
  const int64_t kMaxTokens = std::numeric_limits<int32_t>::max();
  p.max_tokens = integer(j, "max_tokens", 1, kMaxTokens);
  if (chat && !p.max_tokens) p.max_tokens = integer(j, "max_completion_tokens", 1, kMaxTokens);
  p.n = integer(j, "n", 1, kMaxChoices).value_or(1);
  if (static_cast<int64_t>(std::max<size_t>(p.prompts.size(), 1)) * p.n > kMaxSequences)
    bad("n", "prompts x n must be at most " + std::to_string(kMaxSequences));
  // Completions: "logprobs": N alternatives (0-20). Chat: "logprobs": true, "top_logprobs": N.
  if (chat) {
    const bool on = boolean(j, "logprobs").value_or(false);
    const auto top = integer(j, "top_logprobs", 0, kMaxTopLogprobs);
    if (top && !on) bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    if (on) p.top_logprobs = top.value_or(0);
  } else {
    p.top_logprobs = integer(j, "logprobs", 0, kMaxTopLogprobs).value_or(-1);
    if (field(j, "top_logprobs"))
      bad("top_logprobs", "'top_logprobs' is a chat field; completions take 'logprobs': N");
  }
  p.stream = boolean(j, "stream").value_or(false);
  p.ignore_eos = boolean(j, "ignore_eos").value_or(false);
  if (const json* so = field(j, "stream_options")) {
    if (!so->is_object()) bad("stream_options", "'stream_options' must be an object");
    if (!p.stream) bad("stream_options", "'stream_options' needs 'stream': true");
    p.include_usage = boolean(*so, "include_usage").value_or(false);
  }
  p.sampling.temperature = number(j, "temperature", 0.0, 2.0).value_or(1.0);
  p.sampling.top_p = number(j, "top_p", 0.0, 1.0).value_or(1.0);
  if (p.sampling.top_p <= 0.0) bad("top_p", "'top_p' must be greater than 0");
  const int64_t top_k = integer(j, "top_k", -1, kMaxTokens).value_or(0);
  p.sampling.top_k = top_k < 0 ? 0 : top_k;  // -1 (vLLM's "all") is 0 here
  if (const auto seed = integer(j, "seed", std::numeric_limits<int64_t>::min(),
                                std::numeric_limits<int64_t>::max()))
    p.sampling.seed = static_cast<uint64_t>(*seed);
  else
    p.sampling.seed = fresh_seed();
  if (const json* f = field(j, "stop")) {
    if (f->is_string()) {
      p.stop.push_back(f->get<std::string>());
    } else if (f->is_array() && f->size() <= 4) {
      for (const json& s : *f) {
        if (!s.is_string()) bad("stop", "'stop' must hold strings");
        p.stop.push_back(s.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or an array of at most 4 strings");
    }
  }
  return p;
}

namespace {

// The seed as the client may send it back: the int64 it gave, or the drawn one (below 2^63).
int64_t reported_seed(const CompletionParams& p) {
  return static_cast<int64_t>(p.sampling.seed);
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

}  // namespace

json logprobs_json(const CompletionParams& p, const std::vector<LogprobEntry>& entries,
                   size_t text_offset) {
  if (p.chat) {
    json content = json::array();
    for (const LogprobEntry& e : entries) {
      json top = json::array();
      for (const auto& [token, lp] : e.top)
        top.push_back({{"token", token}, {"logprob", lp}, {"bytes", bytes_of(token)}});
      content.push_back({{"token", e.token},
                         {"logprob", e.logprob},
                         {"bytes", bytes_of(e.token)},
                         {"top_logprobs", std::move(top)}});
    }
    return {{"content", std::move(content)}};
  }
  json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  for (const LogprobEntry& e : entries) {
    tokens.push_back(e.token);
    lps.push_back(e.logprob);
    json top = json::object();
    for (const auto& [token, lp] : e.top)
      if (!top.contains(token)) top[token] = lp;  // two ids can share a string
    tops.push_back(std::move(top));
    offsets.push_back(text_offset);
    text_offset += e.token.size();
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(lps)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

json completion_response(const CompletionParams& p, const std::string& id, const std::string& model,
                         int64_t created, const std::vector<ChoiceResult>& choices,
                         int64_t prompt_tokens, int64_t completion_tokens) {
  json arr = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    json c = {{"index", i}, {"finish_reason", choices[i].finish_reason}};
    if (p.chat) {
      c["message"] = {{"role", "assistant"}, {"content", choices[i].text}};
    } else {
      c["text"] = choices[i].text;
    }
    c["logprobs"] = p.top_logprobs >= 0 ? logprobs_json(p, choices[i].logprobs) : json(nullptr);
    arr.push_back(std::move(c));
  }
  return {{"id", id},
          {"object", p.chat ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model},
          {"seed", reported_seed(p)},
          {"choices", std::move(arr)},
          {"usage",
           {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}}}};
}

json completion_chunk(const CompletionParams& p, const std::string& id, const std::string& model,
                      int64_t created, int64_t index, const std::string& text,
                      const std::optional<std::string>& finish_reason,
                      const std::vector<LogprobEntry>& logprobs, size_t text_offset) {
  json c = {{"index", index},
            {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)},
            {"logprobs", p.top_logprobs >= 0 && !logprobs.empty()
                             ? logprobs_json(p, logprobs, text_offset)
                             : json(nullptr)}};
  if (p.chat) {
    c["delta"] = json::object();
    if (!text.empty() || !finish_reason) c["delta"]["content"] = text;
  } else {
    c["text"] = text;
  }
  return {{"id", id},
          {"object", p.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"seed", reported_seed(p)},
          {"choices", json::array({std::move(c)})}};
}

json chat_role_chunk(const std::string& id, const std::string& model, int64_t created,
                     int64_t index) {
  return {{"id", id},
          {"object", "chat.completion.chunk"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", index},
                                    {"delta", {{"role", "assistant"}, {"content", ""}}},
                                    {"logprobs", nullptr},
                                    {"finish_reason", nullptr}}})}};
}

json usage_chunk(const CompletionParams& p, const std::string& id, const std::string& model,
                 int64_t created, int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"id", id},
          {"object", p.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array()},
          {"usage",
           {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}}}};
}

}  // namespace gqa::serve

#pragma once
// The OpenAI completions and chat completions API: request bodies checked field by field into
// what the scheduler needs, and the JSON of responses, stream chunks and errors.
// Accepted: model, prompt (a string or token ids, or an array of either: several prompts, each
// with n choices, numbered prompt * n + choice) / messages, max_tokens
// (chat also max_completion_tokens), temperature, top_p, top_k and ignore_eos (extensions, as
// vLLM's), seed (random per request when absent; every response says which), n, stop, stream,
// stream_options.include_usage. Fields this server cannot honour
// (logprobs, echo, best_of > 1, suffix, penalties, logit_bias, tools) are refused when set, not
// ignored; other unknown fields are ignored, as OpenAI does.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/sampler.h"
#include "serve/chat_format.h"

namespace gqa::serve {

// A request the API refuses: HTTP status and the OpenAI error object's fields.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type = "invalid_request_error",
           std::string param = {}, std::string code = {});
  int status;
  std::string type, param, code;
  nlohmann::json body() const;  // {"error": {"message", "type", "param", "code"}}
};

struct CompletionParams {
  bool chat = false;
  std::optional<std::string> model;
  // Completions: one or more prompts, each text or token ids.
  std::vector<std::variant<std::string, std::vector<int32_t>>> prompts;
  std::vector<ChatMessage> messages;  // chat
  std::optional<int64_t> max_tokens;  // absent: the API's default
  int64_t n = 1;
  bool stream = false, include_usage = false;
  // temperature defaults to 1, as OpenAI's. sampling.seed is the request's seed, or without one
  // a fresh random seed (below 2^63, so that a client can send it back); choice i samples with
  // seed + i. Responses report it as "seed".
  model::SamplerOptions sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;  // extension (as vLLM's): generate max_tokens whatever comes
  // -1: no logprobs; else each generated token's log-probability and this many alternatives
  // (completions "logprobs": N; chat "logprobs": true with "top_logprobs": N).
  int64_t top_logprobs = -1;
};

constexpr int64_t kMaxTopLogprobs = 20;

constexpr int64_t kMaxChoices = 16;               // n
constexpr int64_t kMaxSequences = 64;             // prompts x n in one request
constexpr int64_t kDefaultCompletionTokens = 16;  // OpenAI's default for /v1/completions

// Throws ApiError (400) naming the field that is missing, mistyped or out of range.
CompletionParams parse_completion(const std::string& body, bool chat);

// Response and chunk objects. `id` is shared by every chunk of one response.
// One generated token's log-probability with its text (Tokenizer::token_bytes), and the
// alternatives', most likely first.
struct LogprobEntry {
  std::string token;
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;
};

struct ChoiceResult {
  std::string text, finish_reason;
  std::vector<LogprobEntry> logprobs;  // with top_logprobs >= 0
};

// A choice's "logprobs" object: chat {"content": [{token, logprob, bytes, top_logprobs}]};
// completions {"tokens", "token_logprobs", "top_logprobs", "text_offset"}, offsets counted from
// text_offset (the bytes of the choice's text before these tokens).
nlohmann::json logprobs_json(const CompletionParams& p, const std::vector<LogprobEntry>& entries,
                             size_t text_offset = 0);
nlohmann::json completion_response(const CompletionParams& p, const std::string& id,
                                   const std::string& model, int64_t created,
                                   const std::vector<ChoiceResult>& choices, int64_t prompt_tokens,
                                   int64_t completion_tokens);
// One streamed piece of choice `index`: text (chat: delta.content), finish_reason or null.
nlohmann::json completion_chunk(const CompletionParams& p, const std::string& id,
                                const std::string& model, int64_t created, int64_t index,
                                const std::string& text,
                                const std::optional<std::string>& finish_reason,
                                const std::vector<LogprobEntry>& logprobs = {},
                                size_t text_offset = 0);
// The chat stream's first chunk of a choice: delta {"role": "assistant", "content": ""}.
nlohmann::json chat_role_chunk(const std::string& id, const std::string& model, int64_t created,
                               int64_t index);
// stream_options.include_usage: the last chunk, with no choices and the usage.
nlohmann::json usage_chunk(const CompletionParams& p, const std::string& id,
                           const std::string& model, int64_t created, int64_t prompt_tokens,
                           int64_t completion_tokens);

}  // namespace gqa::serve

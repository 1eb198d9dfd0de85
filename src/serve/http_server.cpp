#include "serve/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_parse.h"
#include "serve/access_control.h"
#include "serve/client_socket.h"
#include "serve/connection_server.h"
#include "serve/listener.h"
#include "serve/openai_api.h"
#include "serve/planner_routes.h"

namespace gqa::serve {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A request body as a JSON object, or a 400.
json json_body(const std::string& body) {
  if (json_depth(body) > kMaxJsonDepth)
    throw ApiError(
        400, "the request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    throw ApiError(400, std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) throw ApiError(400, "the request body must be a JSON object");
  return j;
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(dump(e.body()), "application/json");
}

// What the request log says of the request this worker thread is serving: its start, and
// the tokens of a completion (-1: none). httplib serves a request on one thread from routing to
// the last byte, so a thread_local follows it.
struct RequestNote {
  std::chrono::steady_clock::time_point start;
  int64_t prompt_tokens = -1, completion_tokens = -1;
};
thread_local RequestNote t_request;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// "POST /v1/completions 200 12+24 tokens 0.532 s"
std::string request_line(const std::string& method, const std::string& path, int status,
                         const RequestNote& n) {
  const std::string tokens =
      n.prompt_tokens >= 0
          ? fmt::format(" {}+{} tokens", n.prompt_tokens, std::max<int64_t>(n.completion_tokens, 0))
          : "";
  return fmt::format("{} {} {}{} {:.3f} s", method, path.substr(0, 200), status, tokens,
                     seconds_since(n.start));
}

// The SSE side of one streaming request, shared by httplib's provider calls.
struct StreamState {
  std::atomic<int64_t>* open_requests = nullptr;  // the server's count, until the stream ends
  CompletionParams params;
  std::shared_ptr<SequenceHandle> handle;
  std::string id, model;
  int64_t created = 0;
  int64_t open = 0;                 // choices not yet finished
  std::vector<size_t> text_offset;  // per choice: bytes of its tokens so far (logprobs)
  int64_t prompt_tokens = 0, completion_tokens = 0;
  bool started = false;
  RequestNote note;  // for the log line when the stream ends
  std::string path;
};

}  // namespace

struct HttpServer::Impl {
  const model::Model& model;
  const tok::Tokenizer& tok;
  Scheduler& scheduler;
  Metrics& metrics;
  HttpOptions o;
  ConnectionServer svr;
  // Completion requests not yet answered (a stream counts until its last byte): the graceful
  // shutdown waits for them to flush their final events before it closes the listener.
  std::atomic<int64_t> open_requests{0};
  int port = 0;  // the bound port, once bind() ran
  std::atomic<uint64_t> next_id{0};
  uint64_t id_salt = std::random_device{}();

  int64_t max_token_bytes = 1;  // the longest token's text (set at construction)

  // A prompt of more bytes than any context of scheduler.ctx() tokens can hold is refused before
  // tokenizing: a token covers at most max_token_bytes of normalized text, and normalization
  // shrinks text by less than 4x (NFC and Hangul composition, stripped white space), so the
  // bound is ctx * max_token_bytes * 4.
  void check_prompt_bytes(size_t bytes, const char* param) const {
    const int64_t limit = scheduler.ctx() * max_token_bytes * 4 + 1024;
    if (static_cast<int64_t>(bytes) > limit)
      throw ApiError(400,
                     fmt::format("This model's maximum context length is {} tokens; the {} has {} "
                                 "bytes, more than {} tokens can hold ({} bytes at most)",
                                 scheduler.ctx(), param, bytes, scheduler.ctx(), limit),
                     "invalid_request_error", param, "context_length_exceeded");
  }

  // Throws ApiError 400 (naming `param`) for an id past the model's vocabulary.
  void check_in_vocab(const std::vector<int32_t>& ids, const char* param) const {
    for (int32_t t : ids)
      if (t >= model.config().vocab)
        throw ApiError(
            400,
            fmt::format("token id {} is outside the vocabulary of {}", t, model.config().vocab),
            "invalid_request_error", param);
  }

  std::string new_id(const char* prefix) {
    return fmt::format("{}-{:08x}{:08x}", prefix, static_cast<uint32_t>(id_salt), next_id++);
  }

  // The token ids of a chat's rendered messages, or of a completion's prompt `i`.
  std::vector<int32_t> prompt_ids(const CompletionParams& p, size_t i = 0) {
    if (p.chat) {
      size_t bytes = 0;
      for (const ChatMessage& m : p.messages) bytes += m.content.size();
      check_prompt_bytes(bytes, "messages");
      try {
        return render_chat(o.chat, p.messages, tok);
      } catch (const Error& e) {
        throw ApiError(400, e.what(), "invalid_request_error", "messages");
      }
    }
    if (const auto* ids = std::get_if<std::vector<int32_t>>(&p.prompts.at(i))) {
      check_in_vocab(*ids, "prompt");
      return *ids;
    }
    const std::string& text = std::get<std::string>(p.prompts[i]);
    check_prompt_bytes(text.size(), "prompt");
    auto ids = tok.encode(text);
    if (ids.empty())
      throw ApiError(400, "the prompt has no tokens", "invalid_request_error", "prompt");
    return ids;
  }

  // The tokens a prompt of `len` may generate: max_tokens (checked against the context), or
  // the API's default. Throws ApiError 400 context_length_exceeded.
  static int64_t generation_budget(const CompletionParams& p, int64_t len, int64_t ctx) {
    const char* what = p.chat ? "messages" : "prompt";
    if (len >= ctx)
      throw ApiError(400,
                     fmt::format("This model's maximum context length is {} tokens; the prompt "
                                 "has {} tokens and leaves no room to generate",
                                 ctx, len),
                     "invalid_request_error", what, "context_length_exceeded");
    if (!p.max_tokens) return p.chat ? ctx - len : std::min(kDefaultCompletionTokens, ctx - len);
    if (len + *p.max_tokens > ctx)
      throw ApiError(400,
                     fmt::format("This model's maximum context length is {} tokens; you "
                                 "requested {} tokens ({} in the prompt, {} to generate)",
                                 ctx, len + *p.max_tokens, len, *p.max_tokens),
                     "invalid_request_error", "max_tokens", "context_length_exceeded");
    return *p.max_tokens;
  }

  void completion(const httplib::Request& req, httplib::Response& res, bool chat) {
    const std::string route = chat ? "/v1/chat/completions" : "/v1/completions";
    ++open_requests;
    bool streaming = false;  // then the stream's end counts the request as answered
    struct Answered {
      std::atomic<int64_t>& open;
      const bool& streaming;
      ~Answered() {
        if (!streaming) --open;
      }
    } answered{open_requests, streaming};
    try {
      CompletionParams p = parse_completion(req.body, chat);
      if (p.model && *p.model != o.model_name)
        throw ApiError(404,
                       fmt::format("The model '{}' does not exist; this server serves '{}'",
                                   *p.model, o.model_name),
                       "invalid_request_error", "model", "model_not_found");
      const int64_t ctx = scheduler.ctx();
      const size_t n_prompts = chat ? 1 : p.prompts.size();
      std::vector<std::vector<int32_t>> prompts;
      int64_t n_prompt = 0;  // over all prompts, for the usage
      for (size_t i = 0; i < n_prompts; ++i) {
        prompts.push_back(prompt_ids(p, i));
        n_prompt += static_cast<int64_t>(prompts.back().size());
      }
      auto handle = std::make_shared<SequenceHandle>();
      const auto arrived = std::chrono::steady_clock::now();
      std::vector<Scheduler::Entry> entries;
      for (size_t i = 0; i < prompts.size(); ++i) {
        const auto len = static_cast<int64_t>(prompts[i].size());
        const int64_t max_tokens = generation_budget(p, len, ctx);
        for (int64_t c = 0; c < p.n; ++c) {
          const int64_t choice = static_cast<int64_t>(i) * p.n + c;
          GenerationRequest g;
          g.prompt = prompts[i];
          g.max_tokens = max_tokens;
          g.sampling = p.sampling;
          g.sampling.seed += static_cast<uint64_t>(choice);  // choices differ when sampling
          g.stop = p.stop;
          g.ignore_eos = p.ignore_eos;
          g.top_logprobs = p.top_logprobs;
          g.choice = choice;
          g.arrived = arrived;
          entries.push_back({std::move(g), handle});
        }
      }
      const auto choices = static_cast<int64_t>(entries.size());
      if (!scheduler.submit(std::move(entries))) {
        res.set_header("Retry-After", "1");
        if (scheduler.draining())
          throw ApiError(503, "the server is shutting down", "server_error", "", "shutting_down");
        throw ApiError(429, "the server's queue is full; retry shortly", "rate_limit_error", "",
                       "rate_limit_exceeded");
      }
      const std::string id = new_id(chat ? "chatcmpl" : "cmpl");
      if (p.stream) {
        stream(res, std::move(p), handle, id, choices, n_prompt);
        streaming = true;
      } else
        collect(res, p, *handle, id, choices, n_prompt);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, e.what(), "server_error"));
    }
    metrics.count_request(route, res.status < 0 ? 200 : res.status);  // -1: httplib's 200
  }

  LogprobEntry logprob_entry(const TokenLogprob& t) const {
    LogprobEntry e;
    e.token = tok.token_bytes(t.token);
    e.logprob = t.logprob;
    for (const auto& [id, lp] : t.top) e.top.emplace_back(tok.token_bytes(id), lp);
    return e;
  }

  // Waits for every choice to finish and answers with one JSON object.
  // A client that hangs up meanwhile is noticed within 200 ms: its sequences end and their
  // blocks return to the pool (client_socket.h).
  void collect(httplib::Response& res, const CompletionParams& p, SequenceHandle& handle,
               const std::string& id, int64_t n_choices, int64_t prompt_tokens) {
    std::vector<ChoiceResult> choices(static_cast<size_t>(n_choices));
    int64_t open = n_choices, completion_tokens = 0;
    const int client = current_client_socket();
    auto next_check = std::chrono::steady_clock::now();
    StreamEvent ev;
    while (open > 0) {
      const bool got = handle.next(ev, 200ms);
      // Events come a token at a time, so the check runs on a clock, not when they pause.
      if (const auto now = std::chrono::steady_clock::now(); now >= next_check) {
        next_check = now + 200ms;
        if (client_closed(client)) {
          handle.cancel();
          throw ApiError(499, "the client closed the connection", "invalid_request_error");
        }
      }
      if (!got) continue;
      ChoiceResult& c = choices[static_cast<size_t>(ev.choice)];
      c.text += ev.text;
      if (ev.logprob) c.logprobs.push_back(logprob_entry(*ev.logprob));
      if (!ev.done) continue;
      if (ev.finish_reason == "error") {
        handle.cancel();
        throw ApiError(503, "generation failed: " + ev.error, "server_error");
      }
      c.finish_reason = ev.finish_reason;
      completion_tokens += ev.completion_tokens;
      --open;
    }
    res.set_content(dump(completion_response(p, id, o.model_name, unix_now(), choices,
                                             prompt_tokens, completion_tokens)),
                    "application/json");
    t_request.prompt_tokens = prompt_tokens;
    t_request.completion_tokens = completion_tokens;
  }

  // Server-sent events: one chunk per piece of text, a last chunk per choice with its
  // finish_reason, the usage chunk when asked for, then "data: [DONE]".
  void stream(httplib::Response& res, CompletionParams p, std::shared_ptr<SequenceHandle> handle,
              const std::string& id, int64_t n_choices, int64_t n_prompt) {
    auto st = std::make_shared<StreamState>();
    st->open_requests = &open_requests;
    st->params = std::move(p);
    st->handle = std::move(handle);
    st->id = id;
    st->model = o.model_name;
    st->created = unix_now();
    st->open = n_choices;
    st->text_offset.assign(static_cast<size_t>(n_choices), 0);
    st->prompt_tokens = n_prompt;
    st->note = t_request;
    st->path = p.chat ? "/v1/chat/completions" : "/v1/completions";
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, st](size_t, httplib::DataSink& sink) {
          auto send = [&](const json& j) {
            const std::string line = "data: " + dump(j) + "\n\n";
            return sink.write(line.data(), line.size());
          };
          const CompletionParams& p = st->params;
          if (!st->started) {
            st->started = true;
            if (p.chat)
              for (int64_t i = 0; i < p.n; ++i)
                if (!send(chat_role_chunk(st->id, st->model, st->created, i))) return false;
          }
          StreamEvent ev;
          while (!st->handle->next(ev, 200ms))
            if (!sink.is_writable()) return false;  // the client went away
          bool ok = true;
          if (ev.done && ev.finish_reason == "error") {
            ok = send(ApiError(503, "generation failed: " + ev.error, "server_error").body());
            st->open = 0;
          } else if (ev.done) {
            ok = send(completion_chunk(p, st->id, st->model, st->created, ev.choice, ev.text,
                                       ev.finish_reason));
            st->completion_tokens += ev.completion_tokens;
            --st->open;
          } else if (!ev.text.empty() || ev.logprob) {
            std::vector<LogprobEntry> lp;
            size_t& offset = st->text_offset[static_cast<size_t>(ev.choice)];
            if (ev.logprob) lp.push_back(logprob_entry(*ev.logprob));
            ok = send(completion_chunk(p, st->id, st->model, st->created, ev.choice, ev.text,
                                       std::nullopt, lp, offset));
            for (const LogprobEntry& e : lp) offset += e.token.size();
          }
          if (ok && st->open == 0) {
            if (p.include_usage)
              ok = send(usage_chunk(p, st->id, st->model, st->created, st->prompt_tokens,
                                    st->completion_tokens));
            static constexpr std::string_view kDone = "data: [DONE]\n\n";
            if (ok) ok = sink.write(kDone.data(), kDone.size());
            if (ok) sink.done();
          }
          return ok;
        },
        [st, log = o.request_log](bool success) {
          if (!success || st->open > 0) st->handle->cancel();  // frees the KV blocks
          --*st->open_requests;
          if (log) {
            RequestNote n = st->note;
            n.prompt_tokens = st->prompt_tokens;
            n.completion_tokens = st->completion_tokens;
            log(request_line("POST", st->path, 200, n) +
                (success && st->open == 0 ? "" : " (stream cut short)"));
          }
        });
  }

  json model_object() const {
    return {{"id", o.model_name},
            {"object", "model"},
            {"created", unix_now()},
            {"owned_by", "gqa"},
            {"max_model_len", scheduler.ctx()}};
  }

  void routes() {
    svr.Post("/v1/completions",
             [this](const httplib::Request& q, httplib::Response& r) { completion(q, r, false); });
    svr.Post("/v1/chat/completions",
             [this](const httplib::Request& q, httplib::Response& r) { completion(q, r, true); });
    svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& r) {
      const json body = {{"object", "list"}, {"data", json::array({model_object()})}};
      r.set_content(dump(body), "application/json");
      metrics.count_request("/v1/models", 200);
    });
    // The openai client's models.retrieve(id).
    svr.Get(R"(/v1/models/(.+))", [this](const httplib::Request& q, httplib::Response& r) {
      if (q.matches[1].str() != o.model_name) {
        const ApiError e(404,
                         "The model '" + q.matches[1].str().substr(0, 200) +
                             "' does not exist; this server serves '" + o.model_name + "'",
                         "invalid_request_error", "model", "model_not_found");
        r.status = e.status;
        r.set_content(dump(e.body()), "application/json");
        metrics.count_request("/v1/models/{id}", 404);
        return;
      }
      r.set_content(dump(model_object()), "application/json");
      metrics.count_request("/v1/models/{id}", 200);
    });
    svr.Get("/health", [this](const httplib::Request&, httplib::Response& r) {
      if (scheduler.draining()) {  // load balancers stop sending work here
        r.status = 503;
        r.set_content(R"({"status":"shutting down"})", "application/json");
        metrics.count_request("/health", 503);
        return;
      }
      r.set_content(R"({"status":"ok"})", "application/json");
      metrics.count_request("/health", 200);
    });
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& r) {
      const ConnectionCounts c = svr.counts();
      r.set_content(
          metrics.render(scheduler.gauges(), {c.open, c.accepted, c.rejected, c.timed_out}),
          "text/plain; version=0.0.4");
    });
    svr.Post("/tokenize",
             [this](const httplib::Request& q, httplib::Response& r) { tokenize(q, r); });
    svr.Post("/detokenize",
             [this](const httplib::Request& q, httplib::Response& r) { detokenize(q, r); });
    // CORS preflight: browsers ask before a POST with a JSON body or an Authorization header.
    svr.Options(R"(.*)", [](const httplib::Request&, httplib::Response& r) {
      r.status = 204;
      r.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      r.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      r.set_header("Access-Control-Max-Age", "600");
    });
    svr.set_pre_routing_handler([this](const httplib::Request& q, httplib::Response& r) {
      t_request = RequestNote{std::chrono::steady_clock::now()};
      if (o.access.api_key.empty() || q.method == "OPTIONS" || !needs_api_key(q.path) ||
          key_matches(q.get_header_value("Authorization"), o.access.api_key))
        return httplib::Server::HandlerResponse::Unhandled;
      send_error(r, ApiError(401,
                             "Incorrect or missing API key: send the header "
                             "'Authorization: Bearer <key>'",
                             "invalid_request_error", "", "invalid_api_key"));
      allow_origin(q, r);
      metrics.count_request(q.path.substr(0, 64), 401);
      return httplib::Server::HandlerResponse::Handled;  // the post-routing handler logs it
    });
    svr.set_post_routing_handler([this](const httplib::Request& q, httplib::Response& r) {
      allow_origin(q, r);
      // A stream logs its line when it ends (stream()).
      if (o.request_log && r.get_header_value("Content-Type") != "text/event-stream")
        o.request_log(request_line(q.method, q.path, r.status < 0 ? 200 : r.status, t_request));
    });
    use_json_errors(svr);
  }

  void allow_origin(const httplib::Request& q, httplib::Response& r) const {
    const std::string origin = allowed_origin(o.access, q.get_header_value("Origin"));
    if (origin.empty()) return;
    r.set_header("Access-Control-Allow-Origin", origin);
    if (origin != "*") r.set_header("Vary", "Origin");
  }

  // POST /tokenize, as vLLM's: {"prompt": text or ids, "add_special_tokens": true} or
  // {"messages": [...]} (rendered in the chat format) -> {"tokens", "count", "max_model_len"}.
  void tokenize(const httplib::Request& req, httplib::Response& res) {
    try {
      const json j = json_body(req.body);
      const bool chat = j.contains("messages");
      const CompletionParams p = parse_completion(req.body, chat);
      std::vector<int32_t> ids;
      const bool special = !j.contains("add_special_tokens") ||
                           !j["add_special_tokens"].is_boolean() ||
                           j["add_special_tokens"].get<bool>();
      if (!chat && p.prompts.size() != 1)
        throw ApiError(400, "/tokenize takes one prompt", "invalid_request_error", "prompt");
      if (const auto* text = chat ? nullptr : std::get_if<std::string>(&p.prompts[0])) {
        check_prompt_bytes(text->size(), "prompt");
        ids = tok.encode(*text, special && tok.adds_bos());
      } else {
        ids = prompt_ids(p);
      }
      const json body = {
          {"tokens", ids}, {"count", ids.size()}, {"max_model_len", scheduler.ctx()}};
      res.set_content(dump(body), "application/json");
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, e.what(), "server_error"));
    }
    metrics.count_request("/tokenize", res.status < 0 ? 200 : res.status);
  }

  // POST /detokenize: {"tokens": [ids]} -> {"prompt": text}.
  void detokenize(const httplib::Request& req, httplib::Response& res) {
    try {
      const json j = json_body(req.body);
      const auto it = j.find("tokens");
      std::vector<int32_t> ids;
      if (it == j.end() || !it->is_array())
        throw ApiError(400, "'tokens' must be an array of token ids", "invalid_request_error",
                       "tokens");
      for (const json& t : *it) {
        if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
            t.get<int64_t>() > std::numeric_limits<int32_t>::max())
          throw ApiError(400, "'tokens' must hold non-negative integers", "invalid_request_error",
                         "tokens");
        ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
      }
      check_in_vocab(ids, "tokens");
      res.set_content(dump(json{{"prompt", tok.decode(ids)}}), "application/json");
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, e.what(), "server_error"));
    }
    metrics.count_request("/detokenize", res.status < 0 ? 200 : res.status);
  }
};

HttpServer::HttpServer(const model::Model& model, const tok::Tokenizer& tok, Scheduler& scheduler,
                       Metrics& metrics, HttpOptions o)
    : impl_(new Impl{model, tok, scheduler, metrics, std::move(o), {}, {}}) {
  ConnectionLimits limits = impl_->o.connections;
  if (limits.workers <= 0)
    limits.workers =
        static_cast<int>(scheduler.options().max_seqs + scheduler.options().max_queue + 8);
  impl_->svr.set_limits(limits);
  impl_->svr.set_keep_alive_timeout(static_cast<time_t>(std::ceil(limits.keep_alive_timeout)));
  impl_->svr.set_keep_alive_max_count(static_cast<size_t>(limits.keep_alive_max));
  impl_->svr.set_payload_max_length(static_cast<size_t>(impl_->o.max_body_bytes));
  const tok::Tokenizer& t = impl_->tok;
  for (int32_t id = 0; id < t.vocab_size(); ++id)
    impl_->max_token_bytes =
        std::max<int64_t>(impl_->max_token_bytes, static_cast<int64_t>(t.token_text(id).size()));
  impl_->routes();
  add_planner_routes(impl_->svr);  // the planner page at / and GET /v1/plan
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::bind() {
  port_ = bind_listener(impl_->svr, impl_->o.host, impl_->o.port);
  impl_->port = port_;
}

void HttpServer::listen() {
  impl_->svr.serve();
}

int64_t HttpServer::open_requests() const {
  return impl_ ? impl_->open_requests.load() : 0;
}

ConnectionCounts HttpServer::connections() const {
  return impl_->svr.counts();
}

void HttpServer::stop() {
  if (impl_) impl_->svr.stop();
}

}  // namespace gqa::serve

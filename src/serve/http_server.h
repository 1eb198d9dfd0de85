#pragma once
// The HTTP face of the server (cpp-httplib): the OpenAI routes, health, models and metrics.
//   POST /v1/completions, POST /v1/chat/completions   (stream: true answers with SSE)
//   GET  /v1/models, GET /v1/models/{id}
//   POST /tokenize, POST /detokenize                  (as vLLM's)
//   GET  /health, GET /metrics                        (Prometheus text)
//   GET  /, GET /v1/plan, GET /v1/presets             (the planner page: planner_routes.h)
// An API key and CORS origins: access_control.h. One log line per request through request_log.
// Every error is an OpenAI-style JSON object with a 4xx/5xx status; a handler never throws.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "model/model.h"
#include "serve/access_control.h"
#include "serve/chat_format.h"
#include "serve/connection_limits.h"
#include "serve/metrics.h"
#include "serve/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace gqa::serve {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8000;  // 0: any free port (see HttpServer::port())
  std::string model_name;
  ChatFormatChoice chat;  // plain unless set
  // Connection handling (connection_server.h); workers 0: enough threads for every running and
  // waiting sequence and a few more requests.
  ConnectionLimits connections{.workers = 0};
  int64_t max_body_bytes = 8 << 20;
  AccessOptions access;
  // Called with one line per request ("POST /v1/completions 200 12+24 tokens 0.53 s"); empty:
  // no log.
  std::function<void(const std::string&)> request_log;
};

class HttpServer {
 public:
  HttpServer(const model::Model& model, const tok::Tokenizer& tok, Scheduler& scheduler,
             Metrics& metrics, HttpOptions o);
  ~HttpServer();

  // Binds the listening socket. Throws Error when the address cannot be had.
  void bind();
  int port() const { return port_; }
  // Serves until stop() (from another thread or a signal handler's helper thread).
  void listen();
  // Closes the listener; streams still open are cut, so a graceful shutdown drains the
  // scheduler (Scheduler::drain) and waits for open_requests() to reach 0 first.
  void stop();
  // Completion requests not yet fully answered (a stream until its last event is written).
  int64_t open_requests() const;
  ConnectionCounts connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace gqa::serve

#pragma once
// What the server tests share: the committed KJV model, an in-process server on a loopback
// port, an HTTP client that reads SSE streams, and the single-sequence greedy reference
// (the loop of `gqa generate`).
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "model/sampler.h"
#include "model/session.h"
#include "serve/http_server.h"
#include "serve/metrics.h"
#include "serve/scheduler.h"
#include "tokenizer/text_stream.h"
#include "tokenizer/tokenizer.h"

namespace gqa::test {

inline std::filesystem::path kjv_model_dir() {
  return std::filesystem::path(GQA_TEST_DATA) / ".." / ".." / "models" / "kjv-mha";
}

struct KjvModel {
  model::Model model{kjv_model_dir()};
  tok::Tokenizer tok{model.dir(), model.config()};
};

inline const KjvModel& kjv() {
  static const KjvModel m;
  return m;
}

// Greedy continuation of one prompt alone, as `gqa generate` computes it.
inline std::string reference_text(const std::vector<int32_t>& prompt, int64_t n, KvDtype kv) {
  const auto& k = kjv();
  model::Session s(k.model, static_cast<int64_t>(prompt.size()) + n, {kv, 16});
  model::Sampler sampler({});
  tok::TextStream text(k.tok);
  std::vector<float> logits;
  s.forward(prompt, logits);
  std::string out;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t next = sampler.sample(logits);
    if (k.tok.is_eos(next)) break;
    out += text.push(next);
    if (i + 1 < n) s.forward(std::span(&next, 1), logits);
  }
  return out + text.finish();
}

class LiveServer {
 public:
  explicit LiveServer(const serve::SchedulerOptions& so, serve::HttpOptions ho = default_options())
      : scheduler_(kjv().model, kjv().tok, so, metrics_),
        http_(kjv().model, kjv().tok, scheduler_, metrics_, std::move(ho)) {
    http_.bind();
    thread_ = std::thread([this] { http_.listen(); });
  }
  ~LiveServer() {
    http_.stop();
    thread_.join();
    scheduler_.stop();
  }
  int port() const { return http_.port(); }
  serve::Scheduler& scheduler() { return scheduler_; }
  serve::Metrics& metrics() { return metrics_; }
  serve::HttpServer& http() { return http_; }
  // Polls the gauges until `done` holds (or 20 s pass).
  template <typename Pred>
  bool wait_for(Pred done) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end) {
      if (done(scheduler_.gauges())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  static serve::HttpOptions default_options() {
    serve::HttpOptions o;
    o.port = 0;
    o.model_name = "kjv-mha";
    return o;
  }

 private:
  serve::Metrics metrics_;
  serve::Scheduler scheduler_;
  serve::HttpServer http_;
  std::thread thread_;
};

struct HttpReply {
  int status = 0;
  std::string body;
  std::string retry_after;
  // From an SSE body: the text of choice 0, its finish_reason, and whether [DONE] came.
  std::string text, finish_reason;
  bool done = false;
  int chunks = 0;
  std::string error;  // httplib's reason when no answer came
};

// POSTs `body`; `stop_after_chunks` > 0 hangs up after that many SSE chunks.
inline HttpReply post(int port, const std::string& path, const std::string& body,
                      int stop_after_chunks = 0) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(60, 0);
  HttpReply r;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  std::string buffer;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    r.body.append(data, n);
    buffer.append(data, n);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      const std::string payload = event.substr(6);
      if (payload == "[DONE]") {
        r.done = true;
        continue;
      }
      ++r.chunks;
      const auto j = nlohmann::json::parse(payload);
      if (j.contains("choices") && !j["choices"].empty()) {
        const auto& c = j["choices"][0];
        if (c.contains("text")) r.text += c["text"].get<std::string>();
        if (c.contains("delta") && c["delta"].contains("content"))
          r.text += c["delta"]["content"].get<std::string>();
        if (!c["finish_reason"].is_null()) r.finish_reason = c["finish_reason"];
      }
      if (stop_after_chunks > 0 && r.chunks >= stop_after_chunks) return false;
    }
    return true;
  };
  auto res = cli.send(req);
  if (res) {
    r.status = res->status;
    r.retry_after = res->get_header_value("Retry-After");
  } else {
    r.error = httplib::to_string(res.error());
  }
  return r;
}

}  // namespace gqa::test

// gqa serve under load, on a loopback port in this process: tokens/s at 1, 4, 16 and 64
// concurrent streaming clients (each generating -n tokens, greedy), and the sessions the
// server really holds at a KV budget against what the planner (gqa kv) predicts.
//
// Usage: bench_serve [--model DIR] [--threads N] [-n N] [--kv-dtype T]
//        (defaults: models/kjv-mha, 2, 64, f16)
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/blas_kernel.h"
#include "kv/block_pool.h"
#include "model/model.h"
#include "ops/matmul.h"
#include "plan/capacity.h"
#include "serve/http_server.h"
#include "serve/metrics.h"
#include "serve/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Server {
  Server(const gqa::model::Model& m, const gqa::tok::Tokenizer& tok,
         const gqa::serve::SchedulerOptions& so)
      : scheduler(m, tok, so, metrics), http(m, tok, scheduler, metrics, options()) {
    http.bind();
    thread = std::thread([this] { http.listen(); });
  }
  ~Server() {
    http.stop();
    thread.join();
    scheduler.stop();
  }
  static gqa::serve::HttpOptions options() {
    gqa::serve::HttpOptions o;
    o.port = 0;
    o.model_name = "bench";
    return o;
  }
  gqa::serve::Metrics metrics;
  gqa::serve::Scheduler scheduler;
  gqa::serve::HttpServer http;
  std::thread thread;
};

// One streaming request; returns the completion tokens reported in the usage chunk.
int64_t stream(int port, const json& body) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(600, 0);
  std::string all;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    all.append(d, n);
    return true;
  };
  const auto res = cli.send(req);
  if (!res || res->status != 200) return -1;
  const size_t at = all.rfind("\"usage\"");
  if (at == std::string::npos) return -1;
  const size_t start = all.rfind("data: ", at) + 6;
  return json::parse(
             all.substr(start, all.find("\n\n", start) - start))["usage"]["completion_tokens"]
      .get<int64_t>();
}

}  // namespace

int main(int argc, char** argv) {
  gqa::cli::ensure_fast_blas_kernel(argv);
  std::filesystem::path dir = std::filesystem::path(GQA_SOURCE_DIR) / "models" / "kjv-mha";
  int threads = 2;
  int64_t n = 64;
  gqa::KvDtype kv = gqa::KvDtype::kF16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model")
      dir = argv[i + 1];
    else if (a == "--threads")
      threads = std::stoi(argv[i + 1]);
    else if (a == "-n")
      n = std::stoll(argv[i + 1]);
    else if (a == "--kv-dtype")
      kv = gqa::parse_kv_dtype(argv[i + 1]);
  }
  gqa::ops::set_threads(threads);
  try {
    const gqa::model::Model m(dir);
    const gqa::tok::Tokenizer tok(m.dir(), m.config());
    const auto& c = m.config();
    fmt::print("{}: {} layers, {} query / {} KV heads, head_dim {}; KV {}, {} threads\n",
               dir.filename().string(), c.layers, c.heads, c.kv_heads, c.head_dim,
               gqa::kv_dtype_name(kv), threads);

    // 1. Throughput by concurrency.
    gqa::serve::SchedulerOptions so;
    so.kv_dtype = kv;
    so.max_seqs = 64;
    so.max_queue = 256;
    so.ctx = 512;
    so.kv_blocks = 64 * so.ctx / so.block_size;
    const std::vector<std::string> prompts{"In the beginning", "And God said unto Moses",
                                           "The LORD is my shepherd", "Blessed are the poor"};
    fmt::print("\n{:>8} {:>10} {:>10} {:>12} {:>10}\n", "streams", "tokens", "seconds", "tokens/s",
               "vs 1");
    double one = 0;
    for (int streams : {1, 4, 16, 64}) {
      Server server(m, tok, so);
      std::vector<std::future<int64_t>> clients;
      const auto t0 = Clock::now();
      for (int i = 0; i < streams; ++i)
        clients.push_back(std::async(std::launch::async, [&, i] {
          return stream(server.http.port(),
                        {{"prompt", prompts[static_cast<size_t>(i) % prompts.size()]},
                         {"max_tokens", n},
                         {"temperature", 0},
                         {"ignore_eos", true},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}}});
        }));
      int64_t tokens = 0;
      for (auto& f : clients) tokens += std::max<int64_t>(f.get(), 0);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      const double rate = static_cast<double>(tokens) / s;
      if (streams == 1) one = rate;
      fmt::print("{:>8} {:>10} {:>10.2f} {:>12.1f} {:>9.2f}x\n", streams, tokens, s, rate,
                 rate / one);
    }

    // 2. Sessions held at a KV budget vs the planner. Every request fills a whole session of
    // `ctx` tokens (prompt ctx - 15, 15 generated), and there are twice as many as fit.
    const int64_t ctx = 256;
    const int64_t memory = int64_t{24} << 20;
    const auto layout = gqa::kv::KvLayout::for_model(c, kv, 16);
    gqa::serve::SchedulerOptions hs = so;
    hs.ctx = ctx;
    hs.kv_blocks = gqa::kv::BlockPool::blocks_for_memory(layout, memory);
    hs.max_seqs = 256;
    const gqa::plan::Capacity cap =
        gqa::plan::capacity(c, kv, ctx, 16, {.memory_bytes = memory, .weights_bytes = 0});
    Server server(m, tok, hs);
    std::vector<int32_t> prompt = tok.encode(
        "And the earth was without form, and void; and darkness was upon the face of the deep.");
    while (static_cast<int64_t>(prompt.size()) < ctx - 15)
      prompt.push_back(prompt[1 + prompt.size() % 8]);
    prompt.resize(static_cast<size_t>(ctx - 15));
    std::vector<std::future<int64_t>> clients;
    for (int64_t i = 0; i < 2 * cap.sessions; ++i)
      clients.push_back(std::async(std::launch::async, [&] {
        return stream(server.http.port(), {{"prompt", prompt},
                                           {"max_tokens", 15},
                                           {"temperature", 0},
                                           {"stream", true},
                                           {"stream_options", {{"include_usage", true}}}});
      }));
    for (auto& f : clients) f.get();
    const auto g = server.scheduler.gauges();
    fmt::print(
        "\nKV budget {} MiB ({} blocks of 16 tokens), sessions of {} tokens, {} requests:\n"
        "  server held at most {} at once; gqa kv --memory {} --weights 0 --ctx {} predicts {}: "
        "{}\n",
        memory >> 20, hs.kv_blocks, ctx, 2 * cap.sessions, g.running_peak, memory, ctx,
        cap.sessions, g.running_peak == cap.sessions ? "equal" : "DIFFERENT");
    return g.running_peak == cap.sessions ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_serve: {}\n", e.what());
    return 1;
  }
}

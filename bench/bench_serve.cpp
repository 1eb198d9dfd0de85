// gqa serve under load, on a loopback port in this process:
//  1. tokens/s and time to first token (p50, p99) at 1, 8, 32 and 64 concurrent streaming
//     clients (each generating -n tokens, greedy), medians over --rounds rounds that each run
//     every concurrency in turn;
//  2. the worst gap between two tokens of a running stream while a 4,000-token prompt arrives,
//     with chunked prefill (--prefill-chunk 512) and without (0), in alternating rounds;
//  3. the sessions the server really holds at a KV budget against what the planner predicts.
//
// Usage: bench_serve [--model DIR] [--threads N] [-n N] [--kv-dtype T] [--rounds R]
//        (defaults: models/kjv-mha, 2, 64, f16, 3)
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
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

struct Timed {
  bool ok = false;
  Clock::time_point sent;
  std::vector<Clock::time_point> tokens;  // arrival of each chunk with generated text
};

// One streaming request; each chunk's arrival time. `on_chunk` (optional) sees the count so far.
Timed stream_timed(int port, const json& body,
                   const std::function<void(size_t)>& on_chunk = nullptr) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(600, 0);
  Timed t;
  std::string buffer;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    buffer.append(d, n);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind("data: {", 0) != 0 || event.find("\"text\"") == std::string::npos) continue;
      t.tokens.push_back(Clock::now());
      if (on_chunk) on_chunk(t.tokens.size());
    }
    return true;
  };
  t.sent = Clock::now();
  const auto res = cli.send(req);
  t.ok = res && res->status == 200;
  return t;
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

double median(std::vector<double> v) {
  return quantile(std::move(v), 0.5);
}

}  // namespace

int main(int argc, char** argv) {
  gqa::cli::ensure_fast_blas_kernel(argv);
  std::filesystem::path dir = std::filesystem::path(GQA_SOURCE_DIR) / "models" / "kjv-mha";
  int threads = 2;
  int64_t n = 64;
  gqa::KvDtype kv = gqa::KvDtype::kF16;
  int rounds = 3;
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
    else if (a == "--rounds")
      rounds = std::max(1, std::stoi(argv[i + 1]));
  }
  gqa::ops::set_threads(threads);
  try {
    const gqa::model::Model m(dir);
    const gqa::tok::Tokenizer tok(m.dir(), m.config());
    const auto& c = m.config();
    fmt::print("{}: {} layers, {} query / {} KV heads, head_dim {}; KV {}, {} threads\n",
               dir.filename().string(), c.layers, c.heads, c.kv_heads, c.head_dim,
               gqa::kv_dtype_name(kv), threads);

    // 1. Throughput and time to first token by concurrency.
    gqa::serve::SchedulerOptions so;
    so.kv_dtype = kv;
    so.max_seqs = 64;
    so.max_queue = 256;
    so.ctx = 512;
    so.kv_blocks = 64 * so.ctx / so.block_size;
    const std::vector<std::string> prompts{"In the beginning", "And God said unto Moses",
                                           "The LORD is my shepherd", "Blessed are the poor"};
    const std::vector<int> concurrency{1, 8, 32, 64};
    std::vector<std::vector<double>> rates(concurrency.size()), ttft(concurrency.size());
    for (int round = 0; round < rounds; ++round)
      for (size_t k = 0; k < concurrency.size(); ++k) {
        Server server(m, tok, so);
        std::vector<std::future<Timed>> clients;
        const auto t0 = Clock::now();
        for (int i = 0; i < concurrency[k]; ++i)
          clients.push_back(std::async(std::launch::async, [&, i] {
            return stream_timed(server.http.port(),
                                {{"prompt", prompts[static_cast<size_t>(i) % prompts.size()]},
                                 {"max_tokens", n},
                                 {"temperature", 0},
                                 {"ignore_eos", true},
                                 {"stream", true}});
          }));
        int64_t tokens = 0;
        for (auto& f : clients) {
          const Timed t = f.get();
          tokens += static_cast<int64_t>(t.tokens.size());
          if (!t.tokens.empty()) ttft[k].push_back(seconds(t.tokens.front() - t.sent));
        }
        rates[k].push_back(static_cast<double>(tokens) / seconds(Clock::now() - t0));
      }
    fmt::print("\n{:>8} {:>12} {:>8} {:>14} {:>14}   ({} rounds, {} tokens per stream)\n",
               "streams", "tokens/s", "vs 1", "TTFT p50 ms", "TTFT p99 ms", rounds, n);
    const double one = median(rates[0]);
    for (size_t k = 0; k < concurrency.size(); ++k)
      fmt::print("{:>8} {:>12.1f} {:>7.2f}x {:>14.1f} {:>14.1f}\n", concurrency[k],
                 median(rates[k]), median(rates[k]) / one, 1000 * quantile(ttft[k], 0.5),
                 1000 * quantile(ttft[k], 0.99));

    // 2. A running stream while a 4,000-token prompt arrives, chunked prefill on and off.
    {
      gqa::serve::SchedulerOptions ls = so;
      ls.ctx = std::min<int64_t>(c.max_positions, 4096);
      ls.kv_blocks = 2 * ls.ctx / ls.block_size + 8;
      std::vector<int32_t> long_prompt = tok.encode(
          "And the earth was without form, and void; and darkness was upon the face of the deep.");
      const int64_t long_tokens = std::min<int64_t>(4000, ls.ctx - 16);
      while (static_cast<int64_t>(long_prompt.size()) < long_tokens)
        long_prompt.push_back(long_prompt[1 + long_prompt.size() % 16]);
      long_prompt.resize(static_cast<size_t>(long_tokens));
      std::map<int64_t, std::vector<double>> worst, typical, long_ttft;
      for (int round = 0; round < rounds; ++round)
        for (int64_t chunk :
             round % 2 == 0 ? std::vector<int64_t>{512, 0} : std::vector<int64_t>{0, 512}) {
          ls.prefill_chunk = chunk;
          Server server(m, tok, ls);
          std::promise<void> running;
          auto runner = std::async(std::launch::async, [&] {
            return stream_timed(server.http.port(),
                                {{"prompt", "In the beginning"},
                                 {"max_tokens", 300},
                                 {"temperature", 0},
                                 {"ignore_eos", true},
                                 {"stream", true}},
                                [&](size_t k) {
                                  if (k == 20) running.set_value();
                                });
          });
          running.get_future().wait();
          const Timed big = stream_timed(
              server.http.port(),
              {{"prompt", long_prompt}, {"max_tokens", 1}, {"temperature", 0}, {"stream", true}});
          const Timed run = runner.get();
          if (!big.ok || big.tokens.empty() || !run.ok)
            throw std::runtime_error("a request failed");
          double w = 0;
          std::vector<double> gaps;
          for (size_t i = 1; i < run.tokens.size(); ++i) {
            const double g = seconds(run.tokens[i] - run.tokens[i - 1]);
            gaps.push_back(g);
            if (run.tokens[i] >= big.sent && run.tokens[i - 1] <= big.tokens.front())
              w = std::max(w, g);
          }
          worst[chunk].push_back(w);
          typical[chunk].push_back(median(gaps));
          long_ttft[chunk].push_back(seconds(big.tokens.front() - big.sent));
        }
      fmt::print(
          "\nA stream of 300 tokens while a {}-token prompt arrives ({} rounds, alternating):\n"
          "{:>16} {:>18} {:>18} {:>22}\n",
          long_tokens, rounds, "prefill chunk", "worst gap ms", "median gap ms",
          "long prompt TTFT ms");
      for (int64_t chunk : {int64_t{0}, int64_t{512}})
        fmt::print("{:>16} {:>18.1f} {:>18.1f} {:>22.1f}\n",
                   chunk == 0 ? std::string("off") : std::to_string(chunk),
                   1000 * median(worst[chunk]), 1000 * median(typical[chunk]),
                   1000 * median(long_ttft[chunk]));
      fmt::print("  worst gap, chunked / whole: {:.2f}\n", median(worst[512]) / median(worst[0]));
    }

    // 3. Sessions held at a KV budget vs the planner. Every request fills a whole session of
    // `ctx` tokens (prompt ctx - 15, 15 generated), and there are twice as many as fit.
    const int64_t ctx = 256;
    const int64_t memory = int64_t{24} << 20;
    const auto layout = gqa::kv::KvLayout::for_model(c, kv, 16);
    gqa::serve::SchedulerOptions hs = so;
    hs.ctx = ctx;
    hs.kv_blocks = gqa::kv::BlockPool::blocks_for_memory(layout, memory);
    hs.max_seqs = 256;
    const gqa::plan::Capacity cap =
        gqa::plan::capacity(c, kv, ctx, 16, gqa::plan::CapacityRequest::pool_only(memory));
    Server server(m, tok, hs);
    std::vector<int32_t> prompt = tok.encode(
        "And the earth was without form, and void; and darkness was upon the face of the deep.");
    while (static_cast<int64_t>(prompt.size()) < ctx - 15)
      prompt.push_back(prompt[1 + prompt.size() % 8]);
    prompt.resize(static_cast<size_t>(ctx - 15));
    std::vector<std::future<Timed>> clients;
    for (int64_t i = 0; i < 2 * cap.sessions; ++i)
      clients.push_back(std::async(std::launch::async, [&] {
        return stream_timed(
            server.http.port(),
            {{"prompt", prompt}, {"max_tokens", 15}, {"temperature", 0}, {"stream", true}});
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

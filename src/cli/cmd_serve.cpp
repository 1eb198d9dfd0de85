// gqa serve: the OpenAI-compatible server with continuous batching over the paged KV cache.
#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/human_format.h"
#include "cli/runtime_options.h"
#include "cli/stop_signal.h"
#include "core/byte_size.h"
#include "core/error.h"
#include "model/model.h"
#include "ops/matmul.h"
#include "plan/capacity.h"
#include "serve/chat_format.h"
#include "serve/http_server.h"
#include "serve/metrics.h"
#include "serve/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace gqa::cli {
namespace {

struct ServeCli {
  std::string ckpt;
  RuntimeOptions rt;
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string kv_memory;
  int64_t kv_tokens = 0;
  int64_t max_seqs = 16;
  int64_t max_queue = 64;
  int64_t prefill_chunk = 512;
  int64_t ctx = 0;
  std::string model_name;
  std::string chat_format = "auto";
  std::string api_key;
  std::string allowed_origins;
  bool no_request_log = false;
  double shutdown_timeout = 10;
  serve::ConnectionLimits connections{.workers = 0};
};

constexpr const char* kFooter = R"(
The KV cache is one pool of blocks (--block-size tokens of every layer's K and V), sized by
--kv-memory (bytes of KV, weights not counted) or --kv-tokens; by default it holds --max-seqs
full contexts, at most a quarter of this machine's memory. A request is admitted when the free
blocks cover its prompt; when the pool runs out mid-generation the newest sequence is paused
and later resumed by recomputing its tokens. More than --max-queue waiting sequences: HTTP 429.

Routes: POST /v1/completions, POST /v1/chat/completions (stream: true for SSE),
GET /v1/models[/ID], POST /tokenize, POST /detokenize, GET /health, GET /metrics (Prometheus).
With an API key the model routes need 'Authorization: Bearer KEY'. Details: docs/serve.md.

Connections: a request gets a worker thread only once its head (request line and headers) has
arrived, within --header-timeout seconds of the connection or of its first byte (else 408);
the body must follow within --body-timeout. Idle kept-alive connections close after
--keep-alive-timeout. Past --max-connections open connections, new ones get a 503, and so do
requests when --http-threads workers are busy and as many again wait for one.

SIGTERM or SIGINT: new requests and /health get 503, running ones go on for up to
--shutdown-timeout seconds, then the rest end with a final SSE error event and [DONE] (streams)
or a 503 JSON body; every KV block is freed and the process exits 0.

Example:
  gqa serve models/kjv-mha --port 8000 --kv-memory 256MiB --max-seqs 32
  curl localhost:8000/v1/completions -d '{"prompt": "In the beginning", "max_tokens": 20}'
)";

int run_serve(const ServeCli& o) {
  // Large request bodies (up to 8 MiB) and their parsed JSON: glibc raises its mmap threshold
  // after the first large free and then serves such buffers from the heap, which it keeps.
  // A fixed 1 MiB threshold maps them and gives them back when freed. Measured: nine 7 MB
  // bodies left the RSS at 133 MB, from 23 MB at start.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  const model::CacheOptions cache = o.rt.apply();
  if (o.kv_tokens < 0) fail(ErrorKind::kInvalidArgument, "--kv-tokens must be positive");
  if (o.max_seqs <= 0 || o.max_seqs > 4096)
    fail(ErrorKind::kInvalidArgument, "--max-seqs must be between 1 and 4096");
  if (o.max_queue < 0 || o.max_queue > 100000)
    fail(ErrorKind::kInvalidArgument, "--max-queue must be between 0 and 100000");
  if (o.port < 0 || o.port > 65535)
    fail(ErrorKind::kInvalidArgument, "--port must be between 0 and 65535");
  const model::Model m(o.ckpt);
  const tok::Tokenizer tok(m.dir(), m.config());
  const serve::ChatFormatChoice chat = serve::choose_chat_format(o.chat_format, m.dir());
  const int64_t max_pos = std::max<int64_t>(m.config().max_positions, 1);
  if (o.ctx < 0) fail(ErrorKind::kInvalidArgument, "--ctx must be positive");
  if (o.ctx > max_pos)
    fail(ErrorKind::kInvalidArgument,
         fmt::format("--ctx {} is more than the model's {} positions", o.ctx, max_pos));
  const int64_t ctx = o.ctx > 0 ? o.ctx : std::min<int64_t>(max_pos, 4096);

  serve::Metrics metrics;
  serve::SchedulerOptions so;
  if (!o.kv_memory.empty()) {
    so.kv_memory = parse_byte_size(o.kv_memory);
    if (so.kv_memory <= 0) fail(ErrorKind::kInvalidArgument, "--kv-memory must be positive");
  }
  so.kv_tokens = o.kv_tokens;
  so.kv_dtype = cache.kv_dtype;
  so.block_size = cache.block_size;
  so.max_seqs = o.max_seqs;
  so.max_queue = o.max_queue;
  so.ctx = ctx;
  if (o.prefill_chunk < 0) fail(ErrorKind::kInvalidArgument, "--prefill-chunk must be 0 or more");
  so.prefill_chunk = o.prefill_chunk;
  serve::Scheduler scheduler(m, tok, so, metrics);
  const int64_t blocks = scheduler.options().kv_blocks;

  serve::HttpOptions ho;
  ho.host = o.host;
  ho.port = o.port;
  ho.model_name = o.model_name.empty() ? m.dir().filename().string() : o.model_name;
  if (ho.model_name.empty()) ho.model_name = m.dir().parent_path().filename().string();
  ho.chat = chat;
  ho.access.api_key = o.api_key;
  if (ho.access.api_key.empty())
    if (const char* env = std::getenv("GQA_API_KEY")) ho.access.api_key = env;
  ho.access.allowed_origins = serve::parse_origins(o.allowed_origins);
  ho.connections = o.connections;
  if (!o.no_request_log)
    ho.request_log = [](const std::string& line) { fmt::print(stderr, "gqa serve: {}\n", line); };
  serve::HttpServer http(m, tok, scheduler, metrics, ho);
  http.bind();

  const int64_t kv_bytes = blocks * static_cast<int64_t>(scheduler.kv_layout().block_bytes());
  const plan::Capacity cap = plan::capacity(m.config(), cache.kv_dtype, ctx, cache.block_size,
                                            plan::CapacityRequest::pool_only(kv_bytes));
  fmt::print(
      stderr,
      "gqa serve: model '{}' ({} layers, {} query / {} KV heads, {} context; {} threads, {})\n",
      ho.model_name, m.config().layers, m.config().heads, m.config().kv_heads, ctx,
      omp_get_max_threads(), ops::product_path(m.lm_head().dtype));
  // The same figure from the planner, as a command that runs as printed.
  std::string dir = m.dir().string();
  if (dir.find_first_of(" '\"$\\") != std::string::npos) dir = "'" + dir + "'";
  // With sliding-window layers among full ones each layer has its own blocks (kv/kv_layout.h).
  const int64_t tables = scheduler.kv_layout().tables();
  fmt::print(stderr,
             "gqa serve: KV cache {} ({}): {} blocks of {} tokens{} = {} tokens; {} sessions of "
             "{} tokens fit (as `gqa kv {} --memory {} --weights 0 --ctx {} --kv-dtype {}` "
             "predicts); batch up to {}, queue up to {}\n",
             format_bytes(kv_bytes), kv_dtype_name(cache.kv_dtype), blocks, cache.block_size,
             tables > 1 ? " of one layer" : "", blocks / tables * cache.block_size, cap.sessions,
             ctx, dir, kv_bytes, ctx, kv_dtype_name(cache.kv_dtype), o.max_seqs, o.max_queue);
  fmt::print(stderr, "gqa serve: chat format {} ({})\n", serve::chat_format_name(chat.format),
             chat.source);
  if (!ho.access.api_key.empty())
    fmt::print(stderr, "gqa serve: the model routes need 'Authorization: Bearer <key>'\n");
  fmt::print(stderr, "gqa serve: listening on http://{}:{}\n", o.host, http.port());

  // SIGTERM: refuse new work (503, /health too), let running sequences finish for up to
  // --shutdown-timeout, end the rest with a final error event (streams) or a 503 (others), wait
  // for the handlers to write those, then close the listener.
  const auto graceful_stop = [&] {
    using clock = std::chrono::steady_clock;
    const auto deadline =
        clock::now() + std::chrono::milliseconds(std::llround(o.shutdown_timeout * 1000));
    scheduler.drain(deadline);
    fmt::print(stderr, "gqa serve: finishing {} sequence(s) for up to {:g} s\n",
               scheduler.in_flight(), o.shutdown_timeout);
    auto wait_until = [](const std::function<bool()>& done, clock::time_point limit) {
      while (!done() && clock::now() < limit)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    };
    wait_until([&] { return scheduler.in_flight() == 0; }, deadline + std::chrono::seconds(1));
    wait_until([&] { return http.open_requests() == 0; }, deadline + std::chrono::seconds(3));
    http.stop();
  };
  listen_until_signal(
      "gqa serve", [&] { http.listen(); }, graceful_stop);
  scheduler.stop();
  return 0;
}

}  // namespace

Command add_serve_command(CLI::App& root) {
  auto o = std::make_shared<ServeCli>();
  CLI::App* cmd = root.add_subcommand(
      "serve", "OpenAI-compatible HTTP server with continuous batching over the paged KV cache");
  cmd->add_option("ckpt", o->ckpt, "Checkpoint folder (with tokenizer.model or tokenizer.json)")
      ->required();
  add_runtime_options(*cmd, o->rt, "f16");
  cmd->add_option("--host", o->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o->port, "Port (0: any free port, printed at start)")
      ->capture_default_str();
  auto* mem = cmd->add_option("--kv-memory", o->kv_memory,
                              "Bytes of KV cache, e.g. 512MiB (weights not counted)");
  cmd->add_option("--kv-tokens", o->kv_tokens, "KV cache size in tokens")->excludes(mem);
  cmd->add_option("--max-seqs", o->max_seqs, "Sequences decoded together (batch size)")
      ->capture_default_str();
  cmd->add_option("--max-queue", o->max_queue, "Waiting sequences before HTTP 429")
      ->capture_default_str();
  cmd->add_option("--prefill-chunk", o->prefill_chunk,
                  "Prompt tokens prefilled per step; a longer prompt runs in chunks between "
                  "decode steps (0: whole prompts)")
      ->capture_default_str();
  cmd->add_option("--ctx", o->ctx,
                  "Most tokens per sequence, prompt + output (default: the model's positions, at "
                  "most 4096)");
  cmd->add_option("--model-name", o->model_name,
                  "Name in /v1/models and requests (default: the folder's name)");
  cmd->add_option(
         "--chat-format", o->chat_format,
         "auto (tokenizer_config.json's Jinja chat_template, else plain), template, plain, "
         "llama2, zephyr, chatml, llama3, phi3, phi4, gemma")
      ->capture_default_str();
  cmd->add_option("--api-key", o->api_key,
                  "Require 'Authorization: Bearer KEY' on the model routes (default: the "
                  "GQA_API_KEY environment variable; none: open)");
  cmd->add_option("--allowed-origins", o->allowed_origins,
                  "Web origins allowed by CORS, comma-separated, or * (default: none)");
  cmd->add_option("--shutdown-timeout", o->shutdown_timeout,
                  "Seconds that running requests may go on after SIGTERM/SIGINT before they end "
                  "with an error event (streams) or a 503")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--http-threads", o->connections.workers,
                  "Threads serving requests (default: --max-seqs + --max-queue + 8)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--max-connections", o->connections.max_connections,
                  "Open connections at most; past it new ones get a 503")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--header-timeout", o->connections.header_timeout,
                  "Seconds for a request's line and headers to arrive (else 408)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 3600.0));
  cmd->add_option("--body-timeout", o->connections.body_timeout,
                  "Seconds for a request's body to arrive after its headers")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 3600.0));
  cmd->add_option("--keep-alive-timeout", o->connections.keep_alive_timeout,
                  "Seconds an idle kept-alive connection stays open")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--keep-alive-max", o->connections.keep_alive_max,
                  "Requests per kept-alive connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_flag("--no-request-log", o->no_request_log,
                "No log line per request on stderr (method, route, status, tokens, seconds)");
  cmd->footer(kFooter);
  return {cmd, [o] { return run_serve(*o); }};
}

}  // namespace gqa::cli

// gqa kv: the KV-cache planner.
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/human_format.h"
#include "cli/kv_render.h"
#include "cli/model_source.h"
#include "cli/stop_signal.h"
#include "config/presets.h"
#include "core/byte_size.h"
#include "core/dtype.h"
#include "core/error.h"
#include "plan/capacity.h"
#include "plan/gpus.h"
#include "plan/kv_report.h"
#include "plan/kv_report_json.h"
#include "serve/planner_routes.h"

namespace gqa::cli {
namespace {

struct KvOptions {
  ModelSource source;
  int64_t kv_heads = 0;
  std::string kv_dtype = "f16";
  int64_t ctx = 4096;
  int64_t users = 0;
  int64_t block_size = 16;
  std::string memory;
  std::string weights_dtype;
  std::string weights;
  std::string gpu;
  int64_t tp = 1;
  std::string overhead;
  bool list_gpus = false;
  bool sweep = false;
  bool per_layer = false;
  bool json = false;
  bool list_presets = false;
  bool ui = false;
  std::string host = "127.0.0.1";
  int port = 8080;
  CLI::Option* kv_heads_opt = nullptr;
  CLI::Option* users_opt = nullptr;
};

constexpr const char* kFooter = R"(
KV bytes per token = 2 (K and V) x L layers x h_kv KV heads x d_h head_dim x bytes per value.
int8 adds one f32 scale per token per KV head; q8_0 and q4_0 store blocks of 32 values with an
f16 scale (8.5 and 4.5 bits/value). Sliding-window layers keep min(ctx, window) tokens.
Sessions that fit (--memory): the weights are subtracted, the rest is cut into blocks of
--block-size tokens of every layer's K and V, and a session of --ctx tokens takes
ceil(ctx / block_size) of them.

Examples:
  gqa kv llama-2-7b --kv-heads 8
  gqa kv llama-3.1-8b --kv-dtype fp8 --ctx 32768 --memory 80GiB --weights-dtype bf16
  gqa kv --config path/to/config.json --sweep --users 10 --json
  gqa kv --layers 32 --heads 32 --head-dim 128 --kv-heads 4
  gqa kv --ui --port 8080        # the planner as a web page with the KV-heads slider
)";

plan::KvRequest build_request(const KvOptions& o) {
  plan::KvRequest r;
  r.model = resolve_model(o.source);
  if (o.kv_heads_opt->count()) r.kv_heads = o.kv_heads;
  r.kv_dtype = parse_kv_dtype(o.kv_dtype);
  r.ctx = o.ctx;
  r.block_size = o.block_size;
  if (o.users_opt->count()) r.users = o.users;
  if (!o.memory.empty() && !o.gpu.empty())
    fail(ErrorKind::kInvalidArgument, "give --memory or --gpu, not both");
  if (!o.memory.empty()) r.memory_bytes = parse_byte_size(o.memory);
  if (!o.gpu.empty()) {
    const plan::Gpu* g = plan::find_gpu(o.gpu);
    if (!g) fail(ErrorKind::kInvalidArgument, "unknown GPU '" + o.gpu + "' (see --list-gpus)");
    r.memory_bytes = g->memory_bytes;
  }
  const bool memory = r.memory_bytes.has_value();
  if (!o.weights.empty()) {
    if (!memory) fail(ErrorKind::kInvalidArgument, "--weights needs --memory or --gpu");
    r.weights_bytes = parse_byte_size(o.weights, /*zero_ok=*/true);
  }
  if (o.tp != 1 && !memory) fail(ErrorKind::kInvalidArgument, "--tp needs --memory or --gpu");
  r.tp = o.tp;
  if (!o.overhead.empty()) {
    if (!memory) fail(ErrorKind::kInvalidArgument, "--overhead needs --memory or --gpu");
    plan::parse_overhead(o.overhead, r.overhead_bytes, r.overhead_fraction);
  }
  const std::string wd = !o.weights_dtype.empty()       ? o.weights_dtype
                         : !r.model.torch_dtype.empty() ? r.model.torch_dtype
                                                        : "bf16";
  r.weights = plan::parse_weights_format(wd);
  r.sweep = o.sweep;
  r.per_layer = o.per_layer;
  return r;
}

// The planner page and GET /v1/plan, without a model, until SIGINT/SIGTERM.
int run_ui(const KvOptions& o) {
  if (o.port < 0 || o.port > 65535)
    fail(ErrorKind::kInvalidArgument, "--port must be between 0 and 65535");
  serve::PlannerServer server;
  const int port = server.bind(o.host, o.port);
  fmt::print(stderr,
             "gqa kv: planner page at http://{}:{}/ (GET /v1/plan?preset=...&kv_heads=8 "
             "for JSON); Ctrl-C stops\n",
             o.host, port);
  listen_until_signal(
      "gqa kv", [&] { server.listen(); }, [&] { server.stop(); });
  return 0;
}

int run_kv(const KvOptions& o) {
  if (o.ui) return run_ui(o);
  if (o.list_gpus) {
    if (o.json) {
      std::cout << plan::gpus_json().dump(2) << "\n";
    } else {
      for (const plan::Gpu& g : plan::gpus())
        std::cout << fmt::format("{:<14} {:<28} {}\n", g.key, g.display,
                                 format_bytes(g.memory_bytes));
    }
    return 0;
  }
  if (o.list_presets) {
    if (o.json) {
      std::cout << plan::presets_json().dump(2) << "\n";
    } else {
      std::cout << render_preset_list();
    }
    return 0;
  }
  const plan::KvReport report = plan::make_report(build_request(o));
  if (o.json)
    std::cout << plan::to_json(report).dump(2) << "\n";
  else
    std::cout << render_kv_report(report);
  return 0;
}

}  // namespace

Command add_kv_command(CLI::App& root) {
  auto o = std::make_shared<KvOptions>();
  CLI::App* cmd = root.add_subcommand(
      "kv", "Plan the KV cache: bytes per token, at a context, for N users, sessions that fit");
  cmd->footer(kFooter);
  add_model_source(*cmd, o->source);
  o->kv_heads_opt = cmd->add_option(
      "--kv-heads", o->kv_heads,
      "What-if grouping: KV heads G, a divisor of the query heads (MHA = H, MQA = 1)");
  cmd->add_option("--kv-dtype", o->kv_dtype,
                  "KV cache dtype: f32, f16, bf16, fp8 (e4m3), fp8-e5m2, int8, q8_0, q4_0")
      ->capture_default_str();
  cmd->add_option("--ctx", o->ctx, "Context length in tokens")->capture_default_str();
  o->users_opt = cmd->add_option("--users", o->users, "Concurrent sessions of --ctx tokens");
  cmd->add_option("--block-size", o->block_size, "Tokens per KV block (paged rounding)")
      ->capture_default_str();
  cmd->add_option("--memory", o->memory, "Memory for weights and KV, e.g. 80GiB or 24GB");
  cmd->add_option("--weights-dtype", o->weights_dtype,
                  "Weights format for --memory: f32, f16, bf16, fp8, int8, q4_0 (4.5 bits), "
                  "int4-g128 (AWQ/GPTQ: 4.16 bits, embeddings in 16 bits) (default: the "
                  "config's torch_dtype, else bf16)");
  cmd->add_option("--gpu", o->gpu, "A GPU whose memory is --memory (see --list-gpus)");
  cmd->add_option("--tp", o->tp,
                  "Tensor-parallel GPUs: --memory is per GPU; weights split, KV heads split "
                  "(or replicated past TP = h_kv)")
      ->capture_default_str();
  cmd->add_option("--overhead", o->overhead,
                  "Runtime overhead per GPU, e.g. 10% of --memory or 2GiB (default 0)");
  cmd->add_flag("--list-gpus", o->list_gpus, "The GPUs --gpu knows, with their memory");
  cmd->add_option("--weights", o->weights,
                  "Weight bytes for --memory instead of counting parameters, e.g. 4.5GiB");
  cmd->add_flag("--sweep", o->sweep, "Every divisor G of the query heads, from MHA to MQA");
  cmd->add_flag("--per-layer", o->per_layer, "Footprint of each layer (sliding windows)");
  cmd->add_flag("--json", o->json, "One JSON object for scripts (fields in the README)");
  cmd->add_flag("--list-presets", o->list_presets, "List the built-in model presets");
  cmd->add_flag("--ui", o->ui,
                "Serve the planner as a web page (and GET /v1/plan) instead of printing");
  cmd->add_option("--host", o->host, "With --ui: address to listen on")->capture_default_str();
  cmd->add_option("--port", o->port, "With --ui: port (0: any free port)")->capture_default_str();
  return {cmd, [o] { return run_kv(*o); }};
}

}  // namespace gqa::cli

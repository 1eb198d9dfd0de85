// gqa bench: prefill and decode speed at context depths.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <omp.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/human_format.h"
#include "cli/runtime_options.h"
#include "cli/text_table.h"
#include "core/error.h"
#include "eval/speed.h"
#include "model/model.h"
#include "ops/matmul.h"

namespace gqa::cli {
namespace {

struct BenchCli {
  std::string ckpt;
  int64_t prefill = 512, decode = 128;
  std::string depths = "0";
  RuntimeOptions rt;
  bool json = false;
};

std::vector<int64_t> parse_depths(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const long long v = std::stoll(item, &used);
      if (used != item.size() || v < 0) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      fail(ErrorKind::kInvalidArgument, "--depth: '" + item + "' is not a token count");
    }
  }
  if (out.empty()) fail(ErrorKind::kInvalidArgument, "--depth is empty");
  return out;
}

int run_bench(const BenchCli& o) {
  if (o.prefill < 0 || o.decode < 0) fail(ErrorKind::kInvalidArgument, "-p and -n must be >= 0");
  const auto depths = parse_depths(o.depths);
  const model::CacheOptions cache = o.rt.apply();
  const model::Model m(o.ckpt);
  std::vector<eval::SpeedRow> rows;
  // One line on stderr per test as it starts and ends: a bench of a large model at depth takes
  // minutes, and the table comes at the end.
  const size_t tests = depths.size() * ((o.prefill > 0) + (o.decode > 0));
  const auto run = [&](const std::string& name, int64_t depth, auto measure) {
    fmt::print(stderr, "bench {}/{}: {} at depth {} ...", rows.size() + 1, tests, name, depth);
    std::fflush(stderr);
    rows.push_back(measure());
    fmt::print(stderr, " {:.2f} tokens/s ({:.1f} s)\n", rows.back().tokens_per_s,
               rows.back().seconds);
  };
  for (int64_t d : depths) {
    if (o.prefill > 0)
      run(fmt::format("pp{}", o.prefill), d,
          [&] { return eval::measure_prefill(m, cache, d, o.prefill, 1); });
    if (o.decode > 0)
      run(fmt::format("tg{}", o.decode), d,
          [&] { return eval::measure_decode(m, cache, d, o.decode, 2); });
  }
  if (o.json) {
    nlohmann::json j{{"checkpoint", o.ckpt},
                     {"kv_dtype", o.rt.kv_dtype},
                     {"threads", omp_get_max_threads()},
                     {"matmul", ops::product_path(m.lm_head().dtype)},
                     {"rows", nlohmann::json::array()}};
    for (const auto& r : rows)
      j["rows"].push_back({{"test", r.test},
                           {"depth", r.depth},
                           {"tokens", r.tokens},
                           {"seconds", r.seconds},
                           {"tokens_per_s", r.tokens_per_s},
                           {"bytes_per_token", r.bytes_per_token}});
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  const ModelConfig& c = m.config();
  fmt::print("{}: {} layers, {} heads, {} KV heads, head_dim {}; KV {}; {} threads; {}\n", o.ckpt,
             c.layers, c.heads, c.kv_heads, c.head_dim, kv_dtype_name(cache.kv_dtype),
             omp_get_max_threads(), ops::product_path(m.lm_head().dtype));
  TextTable t({TextTable::Align::kLeft, TextTable::Align::kRight, TextTable::Align::kRight,
               TextTable::Align::kRight});
  t.add_row({"test", "depth", "tokens/s", "read/token"});
  for (const auto& r : rows)
    t.add_row({r.test, std::to_string(r.depth), fmt::format("{:.2f}", r.tokens_per_s),
               r.bytes_per_token > 0 ? format_bytes(static_cast<int64_t>(r.bytes_per_token)) : ""});
  std::cout << t.render();
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& root) {
  auto o = std::make_shared<BenchCli>();
  CLI::App* cmd = root.add_subcommand("bench", "Prefill and decode tokens/s at context depths");
  cmd->add_option("ckpt", o->ckpt, "Checkpoint folder")->required();
  add_runtime_options(*cmd, o->rt, "f16");
  cmd->add_option("-p", o->prefill, "Prompt tokens for the prefill test (0: skip)")
      ->capture_default_str();
  cmd->add_option("-n", o->decode, "Tokens for the decode test (0: skip)")->capture_default_str();
  cmd->add_option("--depth", o->depths, "Tokens already in the cache, comma-separated, e.g. 0,4096")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "One JSON object for scripts");
  cmd->footer(R"(
Like llama-bench: ppN prefills N random tokens, tgN decodes N tokens one at a time, each after
--depth positions already cached (filled with random K/V, not computed). read/token is what one
decode step reads: every weight matrix once plus the K and V of every layer up to the depth.
)");
  return {cmd, [o] { return run_bench(*o); }};
}

}  // namespace gqa::cli

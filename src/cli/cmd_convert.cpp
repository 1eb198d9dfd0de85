// gqa convert: MHA -> GQA by pooling K/V heads within contiguous groups.
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/human_format.h"
#include "cli/progress.h"
#include "cli/stop_signal.h"
#include "convert/converter.h"
#include "core/byte_size.h"
#include "core/dtype.h"

namespace gqa::cli {
namespace {

struct ConvertCli {
  std::string src, dst;
  int64_t kv_heads = 0;
  std::string method = "mean";
  std::string dtype = "keep";
  uint64_t seed = 0;
  std::string max_shard;
  bool force = false;
  bool json = false;
};

int run_convert(const ConvertCli& o) {
  convert::ConvertOptions opt;
  opt.kv_heads = o.kv_heads;
  opt.method = convert::parse_pool_method(o.method);
  if (o.dtype != "keep") opt.dtype = parse_dtype(o.dtype);
  opt.seed = o.seed;
  opt.force = o.force;
  if (!o.max_shard.empty())
    opt.max_shard_bytes = static_cast<uint64_t>(parse_byte_size(o.max_shard));
  prepare_output("gqa convert", o.dst);
  Progress progress("convert", o.json);
  const convert::ConvertResult r = convert::convert_checkpoint(
      o.src, o.dst, opt,
      [&](const convert::ConvertProgress& p) { progress.update(p.bytes_done, p.bytes_total); });
  progress.finish();
  const double secs = progress.seconds();
  if (o.json) {
    nlohmann::json j{{"source", o.src},
                     {"destination", o.dst},
                     {"method", convert::pool_method_name(opt.method)},
                     {"source_kv_heads", r.source_kv_heads},
                     {"kv_heads", r.target_kv_heads},
                     {"pooled_tensors", r.pooled_tensors},
                     {"copied_tensors", r.copied_tensors},
                     {"bytes_read", r.bytes_read},
                     {"bytes_written", r.bytes_written},
                     {"weight_files", r.weight_files},
                     {"seconds", secs}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  fmt::print("{} -> {}: {} KV heads -> {} ({} pooling), {} tensors pooled, {} copied\n", o.src,
             o.dst, r.source_kv_heads, r.target_kv_heads, convert::pool_method_name(opt.method),
             r.pooled_tensors, r.copied_tensors);
  fmt::print("{} read, {} written in {} file{}, {:.1f} s\n",
             format_bytes(static_cast<int64_t>(r.bytes_read)),
             format_bytes(static_cast<int64_t>(r.bytes_written)), r.weight_files,
             r.weight_files == 1 ? "" : "s", secs);
  return 0;
}

}  // namespace

Command add_convert_command(CLI::App& root) {
  auto o = std::make_shared<ConvertCli>();
  CLI::App* cmd = root.add_subcommand(
      "convert", "Convert a checkpoint to fewer KV heads (MHA -> GQA -> MQA) by pooling K/V heads");
  cmd->add_option("src", o->src, "Source checkpoint folder (never modified)")->required();
  cmd->add_option("dst", o->dst, "Destination folder (must not exist unless --force)")->required();
  cmd->add_option("--kv-heads", o->kv_heads, "Target KV heads G; must divide the current count")
      ->required();
  cmd->add_option("--method", o->method, "mean (the GQA paper), first (first head), random")
      ->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "Output dtype of float tensors: keep, f32, bf16, f16")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed for --method random")->capture_default_str();
  cmd->add_option("--max-shard-size", o->max_shard, "Split weights into shards of at most SIZE");
  cmd->add_flag("--force", o->force, "Replace DST if it exists");
  cmd->add_flag("--json", o->json, "Print a JSON summary instead of text (no progress)");
  cmd->footer(R"(
Query head h belongs to group h / (H / G), as HF repeat_kv assumes. In every layer the k_proj and
v_proj rows of the source KV heads in a group (and their biases) are averaged in f32 (mean), or
the group's first head is kept (first), or fresh weights are drawn at the source's standard
deviation (random). q_proj, o_proj and every other tensor are copied unchanged. G equal to the
current count gives byte-identical weights (mean, first). config.json gets the new
num_key_value_heads, tokenizer and generation files are copied, and gqa_conversion.json records
the source, method, groups and seed. Written to a temporary folder and renamed at the end: on
any error nothing is left at DST.

Example:
  gqa convert Llama-2-7b-hf llama-2-7b-gqa8 --kv-heads 8
)");
  return {cmd, [o] { return run_convert(*o); }};
}

}  // namespace gqa::cli

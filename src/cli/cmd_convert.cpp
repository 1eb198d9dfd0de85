// gqa convert: MHA -> GQA by pooling or merging K/V heads, optionally calibrated on text.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/human_format.h"
#include "cli/progress.h"
#include "cli/stop_signal.h"
#include "convert/converter.h"
#include "core/byte_size.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "eval/attention_inputs.h"
#include "model/model.h"
#include "tokenizer/file_encoder.h"
#include "tokenizer/tokenizer.h"

namespace gqa::cli {
namespace {

struct ConvertCli {
  std::string src, dst;
  int64_t kv_heads = 0;
  std::string method = "mean";
  std::string grouping = "contiguous";
  std::string calib;
  int64_t calib_tokens = 32768;
  int64_t calib_window = 512;
  std::string dtype = "keep";
  uint64_t seed = 0;
  std::string max_shard;
  bool force = false;
  bool json = false;
};

// Stops encoding the calibration text once enough tokens are in.
struct EnoughTokens {};

// Runs the source model over the first `max_tokens` tokens of `file` (Progress on stderr).
convert::AttentionInputStats calibrate(const std::string& ckpt, const std::string& file,
                                       int64_t max_tokens, int64_t window, bool quiet) {
  if (max_tokens < 1) fail(ErrorKind::kInvalidArgument, "--calib-tokens must be positive");
  const model::Model m(ckpt);
  const tok::Tokenizer tok(m.dir(), m.config());
  std::vector<int32_t> tokens;
  try {
    tok::encode_file(tok, file, tok.adds_bos(), [&](std::span<const int32_t> s) {
      tokens.insert(tokens.end(), s.begin(), s.end());
      if (static_cast<int64_t>(tokens.size()) >= max_tokens) throw EnoughTokens{};
    });
  } catch (const EnoughTokens&) {
  }
  Progress progress("calibrate", quiet, Progress::Unit::kTokens);
  convert::AttentionInputStats stats = eval::attention_input_stats(
      m, tokens, max_tokens, std::min(window, m.config().max_positions),
      [&](int64_t done, int64_t total) {
        throw_if_interrupted();
        progress.update(static_cast<uint64_t>(done), static_cast<uint64_t>(total));
      });
  progress.finish();
  return stats;
}

int run_convert(const ConvertCli& o) {
  convert::ConvertOptions opt;
  opt.kv_heads = o.kv_heads;
  opt.method = convert::parse_pool_method(o.method);
  opt.grouping = convert::parse_grouping(o.grouping);
  if (o.dtype != "keep") opt.dtype = parse_dtype(o.dtype);
  opt.seed = o.seed;
  opt.force = o.force;
  if (!o.max_shard.empty())
    opt.max_shard_bytes = static_cast<uint64_t>(parse_byte_size(o.max_shard));
  prepare_output("gqa convert", o.dst);
  std::optional<convert::AttentionInputStats> stats;
  if (!o.calib.empty()) {
    interrupt_on_signals();
    stats.emplace(calibrate(o.src, o.calib, o.calib_tokens, o.calib_window, o.json));
    opt.calibration = &*stats;
  }
  Progress progress("convert", o.json);
  const convert::ConvertResult r = convert::convert_checkpoint(
      o.src, o.dst, opt,
      [&](const convert::ConvertProgress& p) { progress.update(p.bytes_done, p.bytes_total); });
  progress.finish();
  const double secs = progress.seconds();
  if (o.json) {
    nlohmann::json j{
        {"source", o.src},
        {"destination", o.dst},
        {"method", convert::pool_method_name(opt.method)},
        {"grouping", convert::grouping_name(opt.grouping)},
        {"calibration_tokens", stats ? nlohmann::json(stats->tokens(0)) : nlohmann::json()},
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
  fmt::print("{} -> {}: {} KV heads -> {} ({}, {} groups{}), {} tensors rewritten, {} copied\n",
             o.src, o.dst, r.source_kv_heads, r.target_kv_heads,
             convert::pool_method_name(opt.method), convert::grouping_name(opt.grouping),
             stats ? fmt::format(", calibrated on {} tokens", stats->tokens(0)) : "",
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
  cmd->add_option("--method", o->method,
                  "mean (the GQA paper), first (first head), random, svd (RoPE-aware key merge and "
                  "value merge folded into q_proj/o_proj; docs/convert.md)")
      ->capture_default_str();
  cmd->add_option("--grouping", o->grouping,
                  "contiguous (query head h in group h / (H / G)) or similar (groups of alike "
                  "heads, permuted to be contiguous; exact)")
      ->capture_default_str();
  cmd->add_option("--calib", o->calib,
                  "Text to run the source model over: svd and similar grouping then weigh each "
                  "input direction by its second moment (default: weights alone)");
  cmd->add_option("--calib-tokens", o->calib_tokens, "Tokens of --calib to use")
      ->capture_default_str();
  cmd->add_option("--calib-window", o->calib_window, "Tokens per calibration window")
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
deviation (random); q_proj, o_proj and every other tensor are copied unchanged. svd fits each
group's keys, per RoPE frequency pair, by one shared key times a complex scale per head, folded
into that head's queries, and its values by the best shared d-dim projection after o_proj, with
a d×d map per head folded into o_proj: exact when the heads are such multiples, never worse than
the mean. --grouping similar picks which heads share a group (per layer, recorded) and permutes
the heads to match. --calib weighs both by the source model's attention inputs on that text
(use training text, not the text you evaluate on). svd refuses models with per-head q/k norms
(Qwen3, Gemma 3). G equal to the current count gives byte-identical weights. config.json gets the new
num_key_value_heads, tokenizer and generation files are copied, and gqa_conversion.json records
the source, method, groups and seed. Written to a temporary folder and renamed at the end: on
any error nothing is left at DST.

Examples:
  gqa convert Llama-2-7b-hf llama-2-7b-gqa8 --kv-heads 8
  gqa convert Llama-2-7b-hf llama-2-7b-gqa8 --kv-heads 8 --method svd --grouping similar \
      --calib train.txt --calib-tokens 65536
)");
  return {cmd, [o] { return run_convert(*o); }};
}

}  // namespace gqa::cli

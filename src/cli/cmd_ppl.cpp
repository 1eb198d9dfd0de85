// gqa ppl: perplexity of a text, and KL divergence against a saved baseline.
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/progress.h"
#include "cli/runtime_options.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/text_file.h"
#include "eval/logprob_file.h"
#include "eval/perplexity.h"
#include "model/model.h"
#include "tokenizer/file_encoder.h"
#include "tokenizer/tokenizer.h"

namespace gqa::cli {
namespace {

struct PplCli {
  std::string ckpt, file, save, kld, tokens_file;
  int64_t ctx = 512;
  RuntimeOptions rt;
  bool json = false;
};

int run_ppl(const PplCli& o) {
  if (o.file.empty() == o.tokens_file.empty())
    fail(ErrorKind::kInvalidArgument, "give exactly one of --file TEXT or --tokens-file IDS");
  const model::CacheOptions cache = o.rt.apply();
  const model::Model m(o.ckpt);
  std::vector<int32_t> tokens;
  if (!o.file.empty()) {
    // Encoded a block at a time (tokenizer/file_encoder.h), so memory is the ids alone.
    const tok::Tokenizer tok(m.dir(), m.config());
    tok::encode_file(tok, o.file, tok.adds_bos(), [&](std::span<const int32_t> s) {
      tokens.insert(tokens.end(), s.begin(), s.end());
    });
  } else {
    std::string text = read_text_file(o.tokens_file, kMaxPromptFileBytes);
    for (char& c : text)
      if (c == '\n' || c == ' ') c = ',';
    while (!text.empty() && text.back() == ',') text.pop_back();
    tokens = tok::parse_token_list(text);
  }
  const int64_t vocab = m.config().vocab;
  std::optional<eval::LogprobWriter> saver;
  std::optional<eval::KlComparer> kl;
  if (!o.save.empty()) {
    // Ctrl-C stops between windows and the unfinished file is removed (one line from main).
    interrupt_on_signals();
    saver.emplace(o.save, vocab);
  }
  if (!o.kld.empty()) kl.emplace(o.kld, vocab);
  Progress progress("ppl", o.json, Progress::Unit::kTokens);
  const eval::PplResult r = eval::perplexity(
      m, tokens, o.ctx, cache,
      [&](std::span<const float> lp, int32_t target) {
        if (saver) saver->add(lp, target);
        if (kl) kl->add(lp, target);
      },
      [&](int64_t done, int64_t total) {
        throw_if_interrupted();
        progress.update(static_cast<uint64_t>(done), static_cast<uint64_t>(total));
      });
  progress.finish();
  if (saver) saver->finish();
  nlohmann::json j{{"checkpoint", o.ckpt}, {"kv_dtype", o.rt.kv_dtype},
                   {"ctx", o.ctx},         {"tokens", tokens.size()},
                   {"windows", r.windows}, {"scored", r.scored},
                   {"ppl", r.ppl()},       {"nll_mean", r.nll_sum / static_cast<double>(r.scored)}};
  std::optional<eval::KlResult> k;
  if (kl) {
    k = kl->finish();
    const double base_ppl = std::exp(k->base_nll_sum / static_cast<double>(k->rows));
    j["baseline_ppl"] = base_ppl;
    j["delta_ppl"] = r.ppl() - base_ppl;
    j["kld_mean"] = k->kl_mean();
    j["kld_max"] = k->kl_max;
    j["top1_agreement"] = static_cast<double>(k->top1_agree) / static_cast<double>(k->rows);
  }
  if (o.json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  fmt::print("perplexity {:.4f} over {} scored tokens ({} windows of up to {})\n", r.ppl(),
             r.scored, r.windows, o.ctx);
  if (k)
    fmt::print(
        "vs baseline: ppl {:.4f} (delta {:+.4f}), KL mean {:.6f} max {:.6f}, top-1 agreement "
        "{:.2f}%\n",
        j["baseline_ppl"].get<double>(), j["delta_ppl"].get<double>(), k->kl_mean(), k->kl_max,
        100.0 * j["top1_agreement"].get<double>());
  if (saver) fmt::print("log-probabilities saved to {}\n", o.save);
  return 0;
}

}  // namespace

Command add_ppl_command(CLI::App& root) {
  auto o = std::make_shared<PplCli>();
  CLI::App* cmd =
      root.add_subcommand("ppl", "Perplexity of a text; KL divergence against a baseline");
  cmd->add_option("ckpt", o->ckpt, "Checkpoint folder")->required();
  add_runtime_options(*cmd, o->rt, "f32");
  cmd->add_option(
      "--file", o->file,
      "Text file, any size (encoded a block at a time with the checkpoint's tokenizer)");
  cmd->add_option("--tokens-file", o->tokens_file,
                  "Token ids separated by commas, spaces or newlines");
  cmd->add_option("--ctx", o->ctx, "Window length in tokens")->capture_default_str();
  cmd->add_option("--save-logits", o->save, "Write this run's log-probabilities as a baseline");
  cmd->add_option("--kld", o->kld, "Compare with a baseline written by --save-logits");
  cmd->add_flag("--json", o->json, "One JSON object for scripts");
  cmd->footer(R"(
The text is tokenized once (BOS first when the tokenizer adds one) and cut into non-overlapping
windows of --ctx tokens; each window starts from an empty cache. In every window each token but
the first is scored, predicted from the tokens before it in the same window; perplexity is
exp(mean negative log-likelihood) over all scored tokens.

--save-logits stores each scored position's log-softmax (4 bytes x vocab per token). --kld reads
one back and reports KL(baseline || this run) per position (mean and max), the change in
perplexity and how often both pick the same top-1 token: how much a converted model or a
quantized KV cache differs from its source. The two runs must score the same tokens.
)");
  return {cmd, [o] { return run_ppl(*o); }};
}

}  // namespace gqa::cli

// gqa generate: stream a continuation of a prompt.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/runtime_options.h"
#include "core/error.h"
#include "model/model.h"
#include "model/sampler.h"
#include "model/session.h"
#include "tokenizer/text_stream.h"
#include "tokenizer/tokenizer.h"

namespace gqa::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct GenerateCli {
  std::string ckpt, prompt, tokens;
  int64_t n = 128;
  int64_t ctx = 0;
  RuntimeOptions rt;
  model::SamplerOptions sampling;
};

int run_generate(const GenerateCli& o) {
  if (o.prompt.empty() == o.tokens.empty())
    fail(ErrorKind::kInvalidArgument, "give exactly one of -p TEXT or --tokens IDS");
  if (o.n < 0) fail(ErrorKind::kInvalidArgument, "-n must be >= 0");
  const model::CacheOptions cache = o.rt.apply();
  model::Sampler sampler(o.sampling);
  const model::Model m(o.ckpt);
  std::optional<tok::Tokenizer> tok;
  std::vector<int32_t> ids;
  if (!o.prompt.empty()) {
    tok.emplace(m.dir(), m.config());
    ids = tok->encode(o.prompt);
  } else {
    ids = tok::parse_token_list(o.tokens);
  }
  if (ids.empty()) fail(ErrorKind::kInvalidArgument, "the prompt has no tokens");
  const int64_t need = static_cast<int64_t>(ids.size()) + o.n;
  const int64_t ctx =
      o.ctx > 0 ? o.ctx : std::min<int64_t>(need, std::max<int64_t>(m.config().max_positions, 1));
  if (static_cast<int64_t>(ids.size()) > ctx)
    fail(ErrorKind::kInvalidArgument,
         fmt::format("the prompt has {} tokens, more than the {}-token context", ids.size(), ctx));
  model::Session s(m, ctx, cache);
  std::vector<float> logits;
  const auto t0 = Clock::now();
  s.forward(ids, logits);
  const double prefill_s = std::chrono::duration<double>(Clock::now() - t0).count();

  std::optional<tok::TextStream> text;
  if (tok) text.emplace(*tok);
  const auto t1 = Clock::now();
  int64_t decoded = 0;
  const char* stop = "length";
  for (int64_t i = 0; i < o.n; ++i) {
    const int32_t next = sampler.sample(logits);
    const auto& eos = m.config().eos_token_ids;  // without a tokenizer, config.json's EOS
    if (tok ? tok->is_eos(next) : std::find(eos.begin(), eos.end(), next) != eos.end()) {
      stop = "end of sequence";
      break;
    }
    if (text)
      std::fputs(text->push(next).c_str(), stdout);
    else
      fmt::print("{}{}", i ? "," : "", next);
    std::fflush(stdout);
    if (s.position() >= s.capacity()) {
      stop = "context full";
      break;
    }
    s.forward(std::span(&next, 1), logits);
    ++decoded;
  }
  const double decode_s = std::chrono::duration<double>(Clock::now() - t1).count();
  if (text) std::fputs(text->finish().c_str(), stdout);  // whatever was held back
  fmt::print("\n");
  fmt::print(stderr,
             "prefill: {} tokens in {:.3f} s ({:.1f} tok/s); decode: {} tokens in {:.3f} s ({:.1f} "
             "tok/s); stop: {}\n",
             ids.size(), prefill_s, static_cast<double>(ids.size()) / prefill_s, decoded, decode_s,
             decoded ? static_cast<double>(decoded) / decode_s : 0.0, stop);
  return 0;
}

}  // namespace

Command add_generate_command(CLI::App& root) {
  auto o = std::make_shared<GenerateCli>();
  CLI::App* cmd = root.add_subcommand("generate", "Continue a prompt with the native runtime");
  cmd->add_option("ckpt", o->ckpt, "Checkpoint folder")->required();
  add_runtime_options(*cmd, o->rt, "f16");
  cmd->add_option("-p,--prompt", o->prompt, "Prompt text (needs tokenizer.model)");
  cmd->add_option("--tokens", o->tokens,
                  "Prompt as token ids, e.g. 1,450,4996 (no tokenizer needed)");
  cmd->add_option("-n", o->n, "Tokens to generate")->capture_default_str();
  cmd->add_option("--ctx", o->ctx,
                  "KV cache size in tokens (default: prompt + n, at most max positions)");
  cmd->add_option("--temp", o->sampling.temperature, "Temperature; 0 is greedy")
      ->capture_default_str();
  cmd->add_option("--top-k", o->sampling.top_k, "Keep the k most likely tokens (0: all)")
      ->capture_default_str();
  cmd->add_option("--top-p", o->sampling.top_p, "Keep the smallest set with this probability")
      ->capture_default_str();
  cmd->add_option("--seed", o->sampling.seed, "Sampling seed")->capture_default_str();
  cmd->footer("\nText streams to stdout; prefill and decode speed go to stderr at the end.\n");
  return {cmd, [o] { return run_generate(*o); }};
}

}  // namespace gqa::cli

#include "reproduce/experiment.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "convert/converter.h"
#include "core/error.h"
#include "core/hms.h"
#include "core/interrupt.h"
#include "eval/attention_inputs.h"
#include "eval/perplexity.h"
#include "eval/speed.h"
#include "io/file_output.h"
#include "model/model.h"
#include "reproduce/kjv_corpus.h"
#include "reproduce/plots.h"
#include "train/corpus.h"
#include "train/trainer_process.h"

namespace gqa::reproduce {
namespace {

namespace fs = std::filesystem;
using convert::PoolMethod;

std::vector<Variant> variants_with(const std::vector<double>& alphas) {
  // MHA is uptrained once, as a control: what re-warming the schedule costs a model that lost
  // nothing. svd + similar at 1 KV head would be svd-1 again (one group holds every head).
  const std::vector<double> first{alphas.front()};
  const auto similar = convert::Grouping::kSimilar, contiguous = convert::Grouping::kContiguous;
  return {{"mean-8", PoolMethod::kMean, 8, first},
          {"mean-4", PoolMethod::kMean, 4, alphas},
          {"mean-2", PoolMethod::kMean, 2, alphas},
          {"mean-1", PoolMethod::kMean, 1, alphas},
          {"first-2", PoolMethod::kFirst, 2, first},
          {"random-2", PoolMethod::kRandom, 2, first},
          {"svd-4", PoolMethod::kSvd, 4, first, contiguous, true},
          {"svd-2", PoolMethod::kSvd, 2, first, contiguous, true},
          {"svd-1", PoolMethod::kSvd, 1, first, contiguous, true},
          {"svd+similar-4", PoolMethod::kSvd, 4, first, similar, true},
          {"svd+similar-2", PoolMethod::kSvd, 2, first, similar, true}};
}

std::string alpha_tag(double a) {
  return fmt::format("a{:g}", a);
}

// Trains one job in gqa-trainer; throws when it fails (its own message is already on stderr).
void train(const train::TrainJob& job, const Options& o) {
  const train::TrainJob prepared = train::prepare_job(job, o.status);
  const int rc = train::run_trainer(prepared, o.quiet, /*announce_interrupt=*/false);
  if (rc == 130) fail(ErrorKind::kInterrupted, "interrupted");
  if (rc != 0)
    fail(ErrorKind::kInvalidArgument, "training " + job.out.string() + " failed (see above)");
}

// The whole run's remaining time: each stage's time is measured and the stages still to come
// are extrapolated, uptraining per token (it dominates) and the rest per variant.
class OverallEta {
 public:
  OverallEta(int64_t uptrain_tokens, int64_t variants)
      : uptrain_total_(uptrain_tokens), variants_total_(variants) {}
  void variant_evaluated(double seconds) {
    other_seconds_ += seconds;
    ++variants_done_;
  }
  void uptrained(int64_t tokens, double seconds) {
    uptrain_done_ += tokens;
    uptrain_seconds_ += seconds;
  }
  // "; overall ETA 0:41:10" once both kinds of stage have been timed, else "".
  std::string text() const {
    if (variants_done_ == 0 || (uptrain_done_ == 0 && uptrain_total_ > 0)) return {};
    const double per_token =
        uptrain_done_ > 0 ? uptrain_seconds_ / static_cast<double>(uptrain_done_) : 0.0;
    const double left = per_token * static_cast<double>(uptrain_total_ - uptrain_done_) +
                        other_seconds_ / static_cast<double>(variants_done_) *
                            static_cast<double>(variants_total_ - variants_done_);
    return "; overall ETA " + format_hms(left);
  }

 private:
  int64_t uptrain_total_, variants_total_;
  int64_t uptrain_done_ = 0, variants_done_ = 0;
  double uptrain_seconds_ = 0, other_seconds_ = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double heldout_ppl(const model::Model& m, const std::vector<int32_t>& tokens, int64_t ctx) {
  return eval::perplexity(m, tokens, ctx, {KvDtype::kF32, 16}).ppl();
}

const VariantResult* find(const Results& r, const std::string& name) {
  for (const auto& v : r.variants)
    if (v.variant.name == name) return &v;
  return nullptr;
}

double ppl_at(const VariantResult* v, double alpha) {
  if (!v) return NAN;
  const auto it = v->ppl.find(alpha);
  return it == v->ppl.end() ? NAN : it->second;
}

}  // namespace

std::string Variant::family() const {
  return std::string(convert::pool_method_name(method)) +
         (grouping == convert::Grouping::kSimilar ? "+similar" : "");
}

Profile full_profile() {
  Profile p;
  p.variants = variants_with({0.05, 0.10});
  return p;
}

Profile quick_profile() {
  Profile p;
  p.variants = variants_with({0.002, 0.004});
  p.eval_tokens = 2048;
  p.decode_depth = 480;
  p.decode_tokens = 16;
  p.pretrain_tokens = 65536;
  p.calib_tokens = 2048;
  return p;
}

ModelConfig demo_model_config() {
  ModelConfig c;
  c.name = "kjv-mha";
  c.layers = 6;
  c.heads = 8;
  c.kv_heads = 8;
  c.head_dim = 32;
  c.hidden = 256;
  c.intermediate = 704;
  c.vocab = 4096;
  c.max_positions = 4096;
  c.rope_theta = 10000;
  c.norm_eps = 1e-6;
  c.tie_embeddings = true;
  c.layer_types.assign(6, LayerAttention::kFull);
  return c;
}

train::TrainRecipe demo_recipe() {
  train::TrainRecipe r;
  r.batch = 16;
  r.seq = 256;
  r.lr = 2e-3;
  return r;
}

Results run_reproduce(const Options& o) {
  const auto start = std::chrono::steady_clock::now();
  auto say = [&](const std::string& s) {
    throw_if_interrupted();  // between stages: a SIGINT during an evaluation stops here
    if (o.status) o.status(s);
  };
  if (fs::exists(o.out) && !o.force)
    fail(ErrorKind::kInvalidArgument, o.out.string() + " exists (--force replaces it)");
  if (o.data.has_value() != o.heldout.has_value())
    fail(ErrorKind::kInvalidArgument, "give --data and --heldout together");
  if (!o.pretrain && !fs::exists(o.base / train::kStateFile))
    fail(ErrorKind::kIo, o.base.string() +
                             " is not a pretrained checkpoint with training_state.json (--base, "
                             "or --pretrain to train one)");
  if (fs::exists(o.out)) fs::remove_all(o.out);
  fs::create_directories(o.out);

  // Data.
  fs::path train_text, heldout_text;
  if (o.data) {
    train_text = *o.data;
    heldout_text = *o.heldout;
  } else {
    say("splitting the King James Bible by book (bible-kjv)");
    const CorpusSplit split = write_kjv_split(o.out / "data");
    train_text = split.train;
    heldout_text = split.heldout;
  }
  const fs::path token_cache = o.out / "data" / "tokens";
  fs::create_directories(o.out / "variants");
  fs::create_directories(o.out / "uptrained");

  // The pretrained MHA model.
  fs::path base = o.base;
  if (o.pretrain) {
    base = o.out / "base";
    train::TrainJob job;
    job.out = base;
    job.data = train_text;
    job.heldout = heldout_text;
    job.config = demo_model_config();
    job.vocab = demo_model_config().vocab;
    job.tokens = o.profile.pretrain_tokens;
    job.recipe = demo_recipe();
    job.save_dtype = DType::kBF16;
    job.loop = {50, 100};
    job.threads = o.threads;
    job.token_cache = token_cache;
    say(fmt::format("pretraining the MHA model on {} tokens", job.tokens));
    train(job, o);
  }
  const train::TrainingState base_state = train::load_training_state(base / train::kStateFile);
  const ModelConfig base_config = model::Model(base).config();
  const fs::path tokenizer = base / train::kTokenizerFile;
  say("tokenizing the held-out text");
  std::vector<int32_t> eval_tokens = train::encode_corpus(tokenizer, heldout_text);
  if (static_cast<int64_t>(eval_tokens.size()) > o.profile.eval_tokens)
    eval_tokens.resize(static_cast<size_t>(o.profile.eval_tokens));
  const int64_t ctx = base_state.recipe.seq;

  Results r;
  // Relative to the output folder when the two sit side by side (demo-out next to models/ in the
  // checkout), so results.json stays true when the checkout moves; absolute when far apart.
  std::error_code rel_ec;
  const fs::path base_rel = fs::relative(base, o.out, rel_ec);
  const bool near = !rel_ec && !base_rel.empty() && !base_rel.string().starts_with("../..");
  r.base = near ? base_rel.string() : fs::absolute(base).lexically_normal().string();
  r.pretraining_tokens = base_state.pretraining_tokens;
  r.eval_tokens = static_cast<int64_t>(eval_tokens.size());
  r.decode_depth = o.profile.decode_depth;
  r.uptrain_lr = base_state.recipe.lr * o.profile.uptrain_lr_scale;
  std::set<double> alphas;
  const int64_t mha_bytes = base_config.kv_bytes_per_token(KvDtype::kF16);
  int64_t uptrain_tokens = 0, variants = 0;
  for (const Variant& v : o.profile.variants) {
    if (base_config.heads % v.kv_heads != 0) continue;
    ++variants;
    for (double alpha : v.alphas)
      uptrain_tokens += std::llround(alpha * static_cast<double>(r.pretraining_tokens));
  }
  OverallEta eta(uptrain_tokens, variants);

  // Calibration for the svd variants: the base model over the start of the training text.
  std::optional<convert::AttentionInputStats> calibration;
  if (std::any_of(o.profile.variants.begin(), o.profile.variants.end(),
                  [](const Variant& v) { return v.calibrated; })) {
    say(fmt::format("calibrating on {} training tokens", o.profile.calib_tokens));
    std::vector<int32_t> calib_tokens = train::encode_corpus(tokenizer, train_text);
    calibration.emplace(
        eval::attention_input_stats(model::Model(base), calib_tokens, o.profile.calib_tokens, ctx));
    r.calib_tokens = calibration->tokens(0);
  }

  for (const Variant& v : o.profile.variants) {
    if (base_config.heads % v.kv_heads != 0) continue;  // a --base with another head count
    VariantResult vr;
    vr.variant = v;
    const ModelConfig cfg = base_config.regrouped(v.kv_heads);
    vr.kv_bytes_per_token = cfg.kv_bytes_per_token(KvDtype::kF16);
    vr.compression = static_cast<double>(mha_bytes) / static_cast<double>(vr.kv_bytes_per_token);

    const fs::path converted = o.out / "variants" / v.name;
    const auto stage_start = std::chrono::steady_clock::now();
    say(fmt::format("{}: converting {} -> {} KV heads", v.name, base_config.kv_heads, v.kv_heads));
    convert::ConvertOptions co;
    co.kv_heads = v.kv_heads;
    co.method = v.method;
    co.grouping = v.grouping;
    if (v.calibrated) co.calibration = &*calibration;
    // The base's dtype (bf16): what a user would ship, and what decode speed is measured on.
    co.seed = 1;
    convert::convert_checkpoint(base, converted, co);
    {
      const model::Model m(converted);  // one load for perplexity and speed
      vr.ppl[0.0] = heldout_ppl(m, eval_tokens, ctx);
      for (int repeat = 0; repeat < 3; ++repeat) {  // best of 3: this machine's speed wanders
        const auto row = eval::measure_decode(m, {KvDtype::kF16, 16}, o.profile.decode_depth,
                                              o.profile.decode_tokens, 7 + repeat);
        vr.decode_tokens_per_s = std::max(vr.decode_tokens_per_s, row.tokens_per_s);
      }
    }
    eta.variant_evaluated(seconds_since(stage_start));
    say(fmt::format("{}: held-out ppl {:.2f} as converted; decode {:.0f} tok/s at depth {}{}",
                    v.name, vr.ppl[0.0], vr.decode_tokens_per_s, o.profile.decode_depth,
                    eta.text()));

    for (double alpha : v.alphas) {
      train::TrainJob job;
      job.out = o.out / "uptrained" / (v.name + "-" + alpha_tag(alpha));
      job.data = train_text;
      job.heldout = heldout_text;
      job.source = converted;
      job.alpha = alpha;
      job.recipe = base_state.recipe;
      job.recipe.lr *= o.profile.uptrain_lr_scale;
      job.loop = {0, 0};
      job.eval_windows = 4;  // the runtime's perplexity below is the measurement
      job.threads = o.threads;
      job.token_cache = token_cache;
      job.force = true;
      const int64_t tokens = std::llround(alpha * static_cast<double>(r.pretraining_tokens));
      say(fmt::format("{}: uptraining for alpha {:g} ({} tokens)", v.name, alpha, tokens));
      const auto uptrain_start = std::chrono::steady_clock::now();
      train(job, o);
      vr.ppl[alpha] = heldout_ppl(model::Model(job.out), eval_tokens, ctx);
      alphas.insert(alpha);
      eta.uptrained(tokens, seconds_since(uptrain_start));
      say(fmt::format("{}: held-out ppl {:.2f} after alpha {:g}{}", v.name, vr.ppl[alpha], alpha,
                      eta.text()));
    }
    r.variants.push_back(std::move(vr));
  }
  r.alphas.assign(alphas.begin(), alphas.end());
  r.findings = judge(r);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io::write_text_file(o.out / "results.json", results_json(r));
  io::write_text_file(o.out / "ppl_vs_kv_heads.svg", ppl_vs_kv_heads_svg(r));
  io::write_text_file(o.out / "ppl_vs_alpha.svg", ppl_vs_alpha_svg(r));
  return r;
}

std::vector<Finding> judge(const Results& r) {
  std::vector<Finding> out;
  if (r.alphas.size() < 2) return out;
  const double a1 = r.alphas[0], a2 = r.alphas[1];
  const VariantResult *mha = find(r, "mean-8"), *mean2 = find(r, "mean-2"),
                      *mean4 = find(r, "mean-4"), *mqa = find(r, "mean-1"),
                      *first2 = find(r, "first-2"), *random2 = find(r, "random-2");
  const double base = ppl_at(mha, 0);
  auto pct = [&](double ppl) { return 100.0 * (ppl / base - 1.0); };

  Finding f1{"conversion: mean pooling > first head > random (2 KV heads, after uptraining)", false,
             ""};
  const double m = ppl_at(mean2, a1), fi = ppl_at(first2, a1), ra = ppl_at(random2, a1);
  f1.agrees = m < fi && fi < ra;
  f1.detail = fmt::format(
      "held-out ppl at alpha {:g}: mean {:.2f}, first {:.2f}, random {:.2f} (as converted: "
      "{:.2f}, {:.2f}, {:.2f})",
      a1, m, fi, ra, ppl_at(mean2, 0), ppl_at(first2, 0), ppl_at(random2, 0));
  out.push_back(f1);

  Finding f2{"GQA is usable as converted while MQA needs uptraining", false, ""};
  const double g0 = pct(ppl_at(mean2, 0)), q0 = pct(ppl_at(mqa, 0));
  const double g1 = pct(ppl_at(mean2, a1)), q1 = pct(ppl_at(mqa, a1));
  // Usable: GQA loses less than half of what MQA loses without training, and MQA gains more
  // from uptraining than GQA does.
  f2.agrees = g0 < 0.5 * q0 && (q0 - q1) > (g0 - g1);
  f2.detail = fmt::format(
      "vs MHA as pretrained ({:.2f}): GQA-4 {:+.1f}%, GQA-2 {:+.1f}%, MQA {:+.1f}% as converted; "
      "after alpha {:g}: GQA-2 {:+.1f}%, MQA {:+.1f}%",
      base, pct(ppl_at(mean4, 0)), g0, q0, a1, g1, q1);
  out.push_back(f2);

  Finding f3{
      fmt::format("uptraining helps at alpha {:g}, with diminishing returns at {:g}", a1, a2),
      false, ""};
  f3.agrees = true;
  std::string parts;
  for (const VariantResult* v : {mean4, mean2, mqa}) {
    if (!v) continue;
    const double gain1 = ppl_at(v, 0) - ppl_at(v, a1), gain2 = ppl_at(v, a1) - ppl_at(v, a2);
    f3.agrees = f3.agrees && gain1 > 0 && gain2 < gain1;
    parts += fmt::format("{}{}: {:.2f} -> {:.2f} -> {:.2f}", parts.empty() ? "" : "; ",
                         v->variant.name, ppl_at(v, 0), ppl_at(v, a1), ppl_at(v, a2));
  }
  f3.detail = "held-out ppl at alpha 0 -> " + fmt::format("{:g} -> {:g}: ", a1, a2) + parts;
  out.push_back(f3);
  return out;
}

}  // namespace gqa::reproduce

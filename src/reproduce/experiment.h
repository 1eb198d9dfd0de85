#pragma once
// gqa reproduce: the GQA paper's experiment at laptop scale. A pretrained MHA model is converted
// to fewer KV heads (mean pooling at every count; first-head and random at one), each variant
// is evaluated as converted (alpha = 0) and after uptraining for alpha of the pretraining
// tokens, and its KV bytes/token and decode speed at a long context are measured.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "convert/group_plan.h"
#include "train/training_state.h"

namespace gqa::reproduce {

struct Variant {
  std::string name;  // "mean-4", "svd+similar-2"
  convert::PoolMethod method = convert::PoolMethod::kMean;
  int64_t kv_heads = 0;
  std::vector<double> alphas;  // uptraining runs besides alpha = 0
  convert::Grouping grouping = convert::Grouping::kContiguous;
  bool calibrated = false;  // convert --calib on the training text (never the held-out text)

  // "mean", "svd+similar": the name without the head count; a plot's series.
  std::string family() const;
};

struct Profile {
  std::vector<Variant> variants;
  int64_t eval_tokens = 16384;  // held-out tokens scored per perplexity
  int64_t decode_depth = 3968;  // context already cached when decode speed is measured
  int64_t decode_tokens = 64;
  int64_t pretrain_tokens = 2'000'000;
  int64_t calib_tokens = 32768;  // training-text tokens that calibrate the svd variants
  // Uptraining's peak learning rate as a fraction of pretraining's. The paper restarts its
  // pretraining recipe; over this model's 25-50 uptraining steps a restart at the full peak
  // costs the MHA model itself 20% perplexity, so the demo uses half (docs/reproduce.md has
  // the sweep that chose it).
  double uptrain_lr_scale = 0.5;
};

// The full experiment (make demo) and --quick (a CTest test: the same steps, alphas 50x
// smaller, short evaluations).
Profile full_profile();
Profile quick_profile();

// The MHA model the demo pretrains (6 layers, 8 heads of 32, d_model 256, SwiGLU 704, tied
// embeddings, 4096 positions; vocab set by the tokenizer) and its recipe.
ModelConfig demo_model_config();
train::TrainRecipe demo_recipe();

struct Options {
  std::filesystem::path out;
  std::filesystem::path base;  // pretrained MHA checkpoint (ignored with pretrain)
  bool pretrain = false;
  std::optional<std::filesystem::path> data, heldout;  // instead of the KJV split
  Profile profile;
  int threads = 2;
  bool force = false;
  bool quiet = false;
  std::function<void(const std::string&)> status;  // one line per stage
};

struct VariantResult {
  Variant variant;
  int64_t kv_bytes_per_token = 0;  // f16 KV cache
  double compression = 1;          // MHA bytes / these bytes
  std::map<double, double> ppl;    // alpha -> held-out perplexity (alpha 0: as converted)
  double decode_tokens_per_s = 0;
};

struct Finding {
  std::string claim;  // the paper's finding
  bool agrees = false;
  std::string detail;  // our numbers
};

struct Results {
  std::string base;  // relative to Options::out when it can be
  int64_t pretraining_tokens = 0;
  int64_t eval_tokens = 0;
  int64_t calib_tokens = 0;  // 0: no variant was calibrated
  int64_t decode_depth = 0;
  std::vector<double> alphas;  // every alpha that some variant ran, ascending, without 0
  double uptrain_lr = 0;
  std::vector<VariantResult> variants;
  std::vector<Finding> findings;
  double seconds = 0;
};

// Runs everything, writing under options.out: data/, base/ (with pretrain), variants/,
// uptrained/, and at the end results.json, ppl_vs_kv_heads.svg and ppl_vs_alpha.svg.
// Throws Error for bad input before long work starts.
Results run_reproduce(const Options& options);

// The three findings, judged on `r`'s numbers.
std::vector<Finding> judge(const Results& r);

std::string results_json(const Results& r);

}  // namespace gqa::reproduce

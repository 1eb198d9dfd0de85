#pragma once
// training_state.json: the recipe a model was trained with, how far it got and what it saw.
// `tokens_seen` of a `gqa train` run is the pretraining budget that uptraining's α refers to;
// `pretraining_tokens` carries that budget through conversion and uptraining.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gqa::train {

enum class Precision { kF32, kBF16 };  // bf16: autocast matmuls, f32 master weights and optimizer
std::string_view precision_name(Precision p);
Precision parse_precision(std::string_view s);  // "f32" | "bf16"; throws Error

struct TrainRecipe {
  int64_t batch = 16;  // sequences per step
  int64_t seq = 256;   // tokens per sequence
  double lr = 2e-3;    // peak
  double min_lr_ratio = 0.1;
  double warmup_fraction = 0.05;  // of the run's steps
  double weight_decay = 0.1;      // AdamW, on matrices only (not norms or biases)
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double grad_clip = 1.0;  // max global L2 norm; 0: off
  Precision precision = Precision::kBF16;
  uint64_t seed = 0;  // weights (fresh runs) and batch order
};

struct EvalPoint {
  int64_t step = 0;  // optimizer steps done
  int64_t tokens = 0;
  double train_loss = 0;  // mean over the steps since the previous point
  double heldout_loss = 0;
};

struct UptrainInfo {
  std::string source;  // the converted checkpoint this run continued
  double alpha = 0;    // fraction of the source's pretraining tokens
};

struct TrainingState {
  TrainRecipe recipe;
  int64_t total_steps = 0;
  int64_t step = 0;  // optimizer steps done
  int64_t tokens_seen = 0;
  int64_t pretraining_tokens = 0;  // α's base (see above)
  std::optional<UptrainInfo> uptrain;
  std::string data;  // the training corpus
  std::vector<EvalPoint> history;
  double seconds = 0;  // training time so far, across resumes
  bool finished = false;

  int64_t tokens_per_step() const { return recipe.batch * recipe.seq; }
};

std::string to_json(const TrainingState& s);
// Throws Error (kParse) naming the field for malformed or incomplete JSON.
TrainingState parse_training_state(const std::string& text, const std::string& source);
TrainingState load_training_state(const std::filesystem::path& file);

}  // namespace gqa::train

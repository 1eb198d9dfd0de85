#pragma once
// A training run as a job: what `gqa train` and `gqa uptrain` ask for, prepared in the gqa
// process (tokenizer, token files) and run by the gqa-trainer process (libtorch), which reads
// it as JSON. Two processes because libsentencepiece and libtorch bundle incompatible protobuf
// runtimes and crash when loaded together.
//
// Nothing appears at `out` until the run finishes. While it runs, `out`.partial/ holds the
// tokenizer, the token files and, every save_every steps, checkpoint/ (f32 weights, optimizer
// state, training_state.json): a stopped run continues from there with `resume`. At the end
// `out` receives config.json, model.safetensors, tokenizer.model and training_state.json at
// once, and the .partial folder is removed.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "config/model_config.h"
#include "core/dtype.h"
#include "train/training_state.h"

namespace gqa::train {

struct LoopOptions {
  int64_t eval_every = 50;  // steps; the last step is always evaluated
  int64_t save_every = 0;   // steps between checkpoints; 0: none
  // Steps this run takes before it saves a checkpoint and stops, to go on with resume (a
  // run in slices); 0: to the end.
  int64_t stop_after = 0;
};

struct TrainJob {
  std::filesystem::path out;
  std::filesystem::path data;                    // training text, one document per line
  std::optional<std::filesystem::path> heldout;  // held-out text; default: the corpus' last 5%
  // A fresh model from `config` (vocab taken from the tokenizer), or `source`'s weights
  // continued (uptraining: its tokenizer, its pretraining budget).
  std::optional<ModelConfig> config;
  std::optional<std::filesystem::path> source;
  std::optional<std::filesystem::path> tokenizer;  // fresh runs: reuse this tokenizer.model
  int64_t vocab = 4096;                            // fresh runs without one: train it
  // A folder of train.tokens/heldout.tokens encoded with the same tokenizer and texts, reused
  // instead of encoding again (gqa reproduce's many runs); filled when empty. gqa side only.
  std::optional<std::filesystem::path> token_cache;
  int64_t tokens = 0;           // rounded up to whole steps
  std::optional<double> alpha;  // uptraining: tokens = alpha * budget
  TrainRecipe recipe;
  DType save_dtype = DType::kF32;
  LoopOptions loop;
  int64_t eval_windows = 32;  // held-out windows of `seq` tokens
  int threads = 2;
  bool resume = false;
  bool force = false;
};

// Throws Error for bad values and for folders that say no (an existing `out` without force,
// an unfinished run without resume or force, nothing to resume).
void check_job(const TrainJob& job);

std::filesystem::path partial_dir(const std::filesystem::path& out);  // `out`.partial
// Files inside the partial folder.
inline constexpr const char* kTokenizerFile = "tokenizer.model";
inline constexpr const char* kTrainTokensFile = "train.tokens";
inline constexpr const char* kHeldoutTokensFile = "heldout.tokens";
inline constexpr const char* kStateFile = "training_state.json";

std::string job_to_json(const TrainJob& job);
TrainJob job_from_json(const std::string& text, const std::string& source);  // throws Error

}  // namespace gqa::train

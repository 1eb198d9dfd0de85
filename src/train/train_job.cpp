#include "train/train_job.h"

#include <nlohmann/json.hpp>

#include "config/hf_config.h"
#include "config/hf_config_writer.h"
#include "core/error.h"
#include "core/json_parse.h"

namespace gqa::train {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

}  // namespace

fs::path partial_dir(const fs::path& out) {
  fs::path p = out;
  if (!p.has_filename()) p = p.parent_path();
  return p.string() + ".partial";
}

void check_job(const TrainJob& job) {
  if (!job.resume && job.config.has_value() == job.source.has_value())
    fail(ErrorKind::kInvalidArgument, "a run starts from a config or from a source checkpoint");
  if (!fs::is_regular_file(job.data))
    fail(ErrorKind::kIo, job.data.string() + ": training text not found");
  if (job.heldout && !fs::is_regular_file(*job.heldout))
    fail(ErrorKind::kIo, job.heldout->string() + ": held-out text not found");
  if (fs::exists(job.out) && !job.force)
    fail(ErrorKind::kInvalidArgument, job.out.string() + " exists (--force replaces it)");
  const fs::path partial = partial_dir(job.out);
  if (job.resume && !fs::exists(partial / "checkpoint" / kStateFile))
    fail(ErrorKind::kInvalidArgument,
         "nothing to resume: " + partial.string() + " holds no checkpoint (run without --resume)");
  if (!job.resume && fs::exists(partial) && !job.force)
    fail(ErrorKind::kInvalidArgument,
         partial.string() + " holds an unfinished run: --resume continues it, --force starts over");
  if (!job.resume && !job.alpha && job.tokens <= 0)
    fail(ErrorKind::kInvalidArgument, "--tokens must be positive");
  if (job.alpha && !(*job.alpha > 0 && *job.alpha <= 10))
    fail(ErrorKind::kInvalidArgument, "--alpha must be in (0, 10]");
  if (job.source && !fs::is_directory(*job.source))
    fail(ErrorKind::kIo, job.source->string() + ": not a checkpoint folder");
  if (!job.resume && job.source && job.alpha && !fs::exists(*job.source / kStateFile))
    fail(ErrorKind::kInvalidArgument,
         job.source->string() +
             " has no training_state.json, so its pretraining budget is "
             "unknown: give --tokens instead of --alpha");
  const TrainRecipe& r = job.recipe;
  if (r.batch < 1 || r.seq < 2 || !(r.lr > 0) || r.min_lr_ratio < 0 || r.min_lr_ratio > 1 ||
      r.warmup_fraction < 0 || r.warmup_fraction >= 1 || r.weight_decay < 0 || r.grad_clip < 0)
    fail(ErrorKind::kInvalidArgument,
         "bad recipe: batch >= 1, seq >= 2, lr > 0, min-lr-ratio and warmup in [0, 1), "
         "weight decay and clip >= 0");
  if (job.eval_windows < 1 || job.loop.eval_every < 0 || job.loop.save_every < 0 ||
      job.loop.stop_after < 0 || job.threads < 1)
    fail(ErrorKind::kInvalidArgument,
         "--eval-windows and --threads must be positive, --eval-every, --save-every and "
         "--stop-after >= 0");
}

std::string job_to_json(const TrainJob& job) {
  // The recipe travels in training_state.json's format.
  TrainingState recipe_only;
  recipe_only.recipe = job.recipe;
  json j = {{"out", job.out.string()},
            {"data", job.data.string()},
            {"vocab", job.vocab},
            {"tokens", job.tokens},
            {"state", json::parse(to_json(recipe_only))},
            {"save_dtype", safetensors_name(job.save_dtype)},
            {"eval_every", job.loop.eval_every},
            {"save_every", job.loop.save_every},
            {"stop_after", job.loop.stop_after},
            {"eval_windows", job.eval_windows},
            {"threads", job.threads},
            {"resume", job.resume},
            {"force", job.force}};
  if (job.heldout) j["heldout"] = job.heldout->string();
  if (job.config) j["config"] = json::parse(to_hf_config_json(*job.config));
  if (job.source) j["source"] = job.source->string();
  if (job.tokenizer) j["tokenizer"] = job.tokenizer->string();
  if (job.alpha) j["alpha"] = *job.alpha;
  return j.dump(2);
}

TrainJob job_from_json(const std::string& text, const std::string& source) {
  try {
    const json j = parse_json(text, source);
    TrainJob job;
    job.out = j.at("out").get<std::string>();
    job.data = j.at("data").get<std::string>();
    job.vocab = j.at("vocab").get<int64_t>();
    job.tokens = j.at("tokens").get<int64_t>();
    job.recipe = parse_training_state(j.at("state").dump(), source + " state").recipe;
    job.save_dtype = parse_dtype(j.at("save_dtype").get<std::string>());
    job.loop = {j.at("eval_every").get<int64_t>(), j.at("save_every").get<int64_t>(),
                j.value("stop_after", int64_t{0})};
    job.eval_windows = j.at("eval_windows").get<int64_t>();
    job.threads = j.at("threads").get<int>();
    job.resume = j.at("resume").get<bool>();
    job.force = j.at("force").get<bool>();
    if (j.contains("heldout")) job.heldout = j["heldout"].get<std::string>();
    if (j.contains("config")) job.config = parse_hf_config(j["config"].dump(), source + " config");
    if (j.contains("source")) job.source = j["source"].get<std::string>();
    if (j.contains("tokenizer")) job.tokenizer = j["tokenizer"].get<std::string>();
    if (j.contains("alpha")) job.alpha = j["alpha"].get<double>();
    return job;
  } catch (const json::exception& e) {
    fail(ErrorKind::kParse, source + ": bad training job: " + e.what());
  }
}

}  // namespace gqa::train

#include "train/training_state.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_parse.h"
#include "core/text_file.h"
#include "io/checkpoint.h"

namespace gqa::train {
namespace {

using nlohmann::json;
constexpr int kVersion = 1;

template <typename T>
T field(const json& j, const char* key, const std::string& source) {
  if (!j.contains(key)) fail(ErrorKind::kParse, source + ": missing field '" + key + "'");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    fail(ErrorKind::kParse, source + ": field '" + key + "' has the wrong type");
  }
}

}  // namespace

std::string_view precision_name(Precision p) {
  return p == Precision::kF32 ? "f32" : "bf16";
}

Precision parse_precision(std::string_view s) {
  if (s == "f32" || s == "float32") return Precision::kF32;
  if (s == "bf16" || s == "bfloat16") return Precision::kBF16;
  fail(ErrorKind::kInvalidArgument, "precision '" + std::string(s) + "': use f32 or bf16");
}

std::string to_json(const TrainingState& s) {
  const TrainRecipe& r = s.recipe;
  json history = json::array();
  for (const EvalPoint& e : s.history)
    history.push_back({{"step", e.step},
                       {"tokens", e.tokens},
                       {"train_loss", e.train_loss},
                       {"heldout_loss", e.heldout_loss}});
  json j = {
      {"version", kVersion},
      {"finished", s.finished},
      {"step", s.step},
      {"total_steps", s.total_steps},
      {"tokens_seen", s.tokens_seen},
      {"pretraining_tokens", s.pretraining_tokens},
      {"seconds", s.seconds},
      {"data", s.data},
      {"recipe",
       {{"batch", r.batch},
        {"seq", r.seq},
        {"lr", r.lr},
        {"min_lr_ratio", r.min_lr_ratio},
        {"warmup_fraction", r.warmup_fraction},
        {"weight_decay", r.weight_decay},
        {"beta1", r.beta1},
        {"beta2", r.beta2},
        {"eps", r.eps},
        {"grad_clip", r.grad_clip},
        {"precision", precision_name(r.precision)},
        {"seed", r.seed}}},
      {"history", history},
  };
  if (s.uptrain) j["uptrain"] = {{"source", s.uptrain->source}, {"alpha", s.uptrain->alpha}};
  return j.dump(2) + "\n";
}

TrainingState parse_training_state(const std::string& text, const std::string& source) {
  const json j = parse_json(text, source);
  if (!j.is_object()) fail(ErrorKind::kParse, source + ": expected a JSON object");
  if (field<int>(j, "version", source) != kVersion)
    fail(ErrorKind::kUnsupported, source + ": unknown version");
  TrainingState s;
  s.finished = field<bool>(j, "finished", source);
  s.step = field<int64_t>(j, "step", source);
  s.total_steps = field<int64_t>(j, "total_steps", source);
  s.tokens_seen = field<int64_t>(j, "tokens_seen", source);
  s.pretraining_tokens = field<int64_t>(j, "pretraining_tokens", source);
  s.seconds = field<double>(j, "seconds", source);
  s.data = field<std::string>(j, "data", source);
  const json r = field<json>(j, "recipe", source);
  const std::string rs = source + " recipe";
  s.recipe.batch = field<int64_t>(r, "batch", rs);
  s.recipe.seq = field<int64_t>(r, "seq", rs);
  s.recipe.lr = field<double>(r, "lr", rs);
  s.recipe.min_lr_ratio = field<double>(r, "min_lr_ratio", rs);
  s.recipe.warmup_fraction = field<double>(r, "warmup_fraction", rs);
  s.recipe.weight_decay = field<double>(r, "weight_decay", rs);
  s.recipe.beta1 = field<double>(r, "beta1", rs);
  s.recipe.beta2 = field<double>(r, "beta2", rs);
  s.recipe.eps = field<double>(r, "eps", rs);
  s.recipe.grad_clip = field<double>(r, "grad_clip", rs);
  s.recipe.precision = parse_precision(field<std::string>(r, "precision", rs));
  s.recipe.seed = field<uint64_t>(r, "seed", rs);
  for (const json& e : field<json>(j, "history", source)) {
    const std::string hs = source + " history";
    s.history.push_back({field<int64_t>(e, "step", hs), field<int64_t>(e, "tokens", hs),
                         field<double>(e, "train_loss", hs), field<double>(e, "heldout_loss", hs)});
  }
  if (j.contains("uptrain")) {
    const json& u = j["uptrain"];
    s.uptrain = UptrainInfo{field<std::string>(u, "source", source + " uptrain"),
                            field<double>(u, "alpha", source + " uptrain")};
  }
  if (s.step < 0 || s.total_steps < 0 || s.step > s.total_steps || s.tokens_seen < 0 ||
      s.pretraining_tokens < 0 || s.recipe.batch < 1 || s.recipe.seq < 1)
    fail(ErrorKind::kParse, source + ": inconsistent step or token counts");
  return s;
}

TrainingState load_training_state(const std::filesystem::path& file) {
  return parse_training_state(read_text_file(file), file.string());
}

}  // namespace gqa::train

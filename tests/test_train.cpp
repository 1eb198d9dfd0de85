// Training (libtorch): one step against an independent PyTorch reference (tests/data/
// make_train_golden.py: loss, gradients, parameters after AdamW with clipping), trained
// checkpoints in the native runtime, and runs that stop and resume.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/text_file.h"
#include "io/checkpoint.h"
#include "io/token_file.h"
#include "model/model.h"
#include "model/session.h"
#include "temp_dir.h"
#include "train/trainer.h"
#include "train/training_run.h"

namespace gqa::train {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kGolden = fs::path(GQA_TEST_DATA) / "golden";

double max_rel(const torch::Tensor& got, const std::vector<double>& want) {
  const torch::Tensor w = torch::tensor(want, torch::kDouble);
  const torch::Tensor g = got.detach().to(torch::kDouble).flatten();
  EXPECT_EQ(g.numel(), w.numel());
  return ((g - w).abs().max() / w.abs().max()).item<double>();
}

torch::Tensor long_tensor(const json& rows) {
  std::vector<int64_t> flat;
  for (const auto& r : rows)
    for (const auto& v : r) flat.push_back(v.get<int64_t>());
  return torch::tensor(flat, torch::kLong).view({static_cast<int64_t>(rows.size()), -1});
}

class TrainStepGolden : public ::testing::TestWithParam<std::string> {};

// Computed in float64 on both sides. The one f32 quantity is RoPE's inverse frequencies, which
// the trainer takes from config/rope_frequencies.h (as the runtime does) so as to mirror the
// runtime exactly; their rounding (~6e-8) bounds the agreement at about 1e-8 relative, and at
// 2.1e-7 for the longrope case, whose attention factor (sqrt 2 on cos and sin, so scores x2)
// sharpens the softmax. A structural error shows up near 1e-2.
constexpr double kGoldenTolerance = 5e-7;
constexpr double kLossTolerance = 5e-8;  // absolute, on losses near 7 (longrope: 1.6e-8)
TEST_P(TrainStepGolden, LossGradientsAndUpdateMatchPyTorch) {
  const fs::path dir = kGolden / GetParam();
  std::ifstream in(dir / "train_step.json");
  const json g = json::parse(in);
  const TorchLlama model = TorchLlama::load(dir, torch::kDouble);
  const Batch batch{long_tensor(g["ids"]), long_tensor(g["targets"])};

  torch::Tensor loss = model.loss(batch.ids, batch.targets);
  EXPECT_NEAR(loss.item<double>(), g["loss"].get<double>(), kLossTolerance);
  loss.backward();
  for (const auto& [name, want] : g["grads"].items())
    EXPECT_LE(max_rel(model.param(name).grad(), want.get<std::vector<double>>()), kGoldenTolerance)
        << name;

  TrainRecipe r;
  r.lr = g["lr"];
  r.beta1 = g["betas"][0];
  r.beta2 = g["betas"][1];
  r.eps = g["eps"];
  r.weight_decay = g["weight_decay"];
  auto opt = make_optimizer(model, r);
  const double step_loss =
      train_step(model, *opt, batch, r.lr, g["clip"].get<double>(), Precision::kF32);
  EXPECT_NEAR(step_loss, g["loss"].get<double>(), kLossTolerance);
  for (const auto& [name, want] : g["after"].items())
    EXPECT_LE(max_rel(model.param(name), want.get<std::vector<double>>()), kGoldenTolerance)
        << name;
}

INSTANTIATE_TEST_SUITE_P(Cases, TrainStepGolden,
                         ::testing::Values("train_llama_gqa", "train_qwen2_bias_mqa_tied",
                                           "train_phi3_longrope_gqa", "train_smollm3_nope_mqa",
                                           "train_gemma3_gqa"));

ModelConfig small_config(int64_t kv_heads) {
  ModelConfig c;
  c.name = "small";
  c.layers = 2;
  c.heads = 6;
  c.kv_heads = kv_heads;
  c.head_dim = 12;
  c.hidden = 40;
  c.intermediate = 56;
  c.vocab = 71;
  c.max_positions = 128;
  c.rope_theta = 10000;
  c.layer_types.assign(2, LayerAttention::kFull);
  return c;
}

// A checkpoint written by training loads in the native runtime and gives the same logits.
TEST(TrainedCheckpoint, NativeRuntimeGivesTheSameLogits) {
  for (int64_t kv : {6, 2, 1}) {
    test::TempDir tmp;
    const TorchLlama model = TorchLlama::initialized(small_config(kv), 7, 0.2);
    model.save(tmp.path(), DType::kF32);
    const std::vector<int32_t> tokens{1, 5, 9, 33, 70, 2, 14, 14, 60, 3, 0, 41, 7};
    torch::Tensor ids =
        torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.end())).view({1, -1});
    torch::Tensor want;
    {
      torch::NoGradGuard no_grad;
      want = model.forward(ids).squeeze(0).contiguous();  // [T, vocab] f32
    }
    const model::Model native(tmp.path());
    model::Session s(native, 64);
    std::vector<float> logits;
    s.forward(tokens, logits, /*all_logits=*/true);
    const torch::Tensor got = torch::from_blob(logits.data(), want.sizes(), torch::kFloat);
    for (int64_t t = 0; t < want.size(0); ++t) {
      const double err = ((got[t] - want[t]).abs().max() / want[t].abs().max()).item<double>();
      EXPECT_LE(err, 1e-4) << "kv_heads " << kv << " position " << t;
    }
  }
}

TEST(TrainedCheckpoint, LoadRejectsWrongShapes) {
  test::TempDir tmp;
  TorchLlama::initialized(small_config(2), 1).save(tmp.path(), DType::kBF16);
  // The config now claims 3 KV heads; the stored K/V projections hold 2.
  ModelConfig c = small_config(3);
  c.heads = 6;
  EXPECT_NO_THROW(TorchLlama::load(tmp.path()));
  std::string text = read_text_file(tmp.path() / "config.json");
  const auto at = text.find("\"num_key_value_heads\": 2");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 24, "\"num_key_value_heads\": 3");
  std::ofstream(tmp.path() / "config.json") << text;
  try {
    TorchLlama::load(tmp.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("k_proj"), std::string::npos) << e.what();
  }
}

// Settings training does not implement are refused by name: dropout (the runtime runs such a
// checkpoint), and those the runtime refuses too.
TEST(TrainedCheckpoint, LoadRefusesSettingsTrainingDoesNotImplement) {
  test::TempDir tmp;
  TorchLlama::initialized(small_config(2), 1).save(tmp.path(), DType::kF32);
  const std::string text = read_text_file(tmp.path() / "config.json");
  for (const auto& [setting, named] : std::vector<std::pair<std::string, std::string>>{
           {"\"resid_pdrop\": 0.1,", "dropout"}, {"\"mlp_bias\": true,", "mlp_bias"}}) {
    std::ofstream(tmp.path() / "config.json") << "{" + setting + text.substr(text.find('{') + 1);
    try {
      TorchLlama::load(tmp.path());
      ADD_FAILURE() << "expected an error for " << setting;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << e.what();
    }
  }
}

TEST(LrSchedule, WarmupThenCosineToTheFloor) {
  const LrSchedule s{1.0, 0.1, 10, 110};
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.at(9), 1.0);
  EXPECT_DOUBLE_EQ(s.at(10), 1.0);
  EXPECT_NEAR(s.at(10 + 99 / 2), 0.55, 0.01);
  EXPECT_DOUBLE_EQ(s.at(109), 0.1);
  for (int64_t i = 11; i < 110; ++i) EXPECT_LE(s.at(i), s.at(i - 1));
}

TEST(TrainingState, JsonRoundTripsAndNamesBadFields) {
  TrainingState s;
  s.recipe.batch = 3;
  s.recipe.precision = Precision::kF32;
  s.total_steps = 10;
  s.step = 4;
  s.tokens_seen = 1234;
  s.pretraining_tokens = 99;
  s.uptrain = UptrainInfo{"src", 0.05};
  s.history.push_back({2, 600, 4.5, 4.7});
  const TrainingState r = parse_training_state(to_json(s), "x");
  EXPECT_EQ(to_json(r), to_json(s));
  EXPECT_THROW(parse_training_state("{", "x"), Error);
  json j = json::parse(to_json(s));
  j.erase("tokens_seen");
  try {
    parse_training_state(j.dump(), "state.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokens_seen"), std::string::npos);
  }
  j = json::parse(to_json(s));
  j["step"] = 11;  // past total_steps
  EXPECT_THROW(parse_training_state(j.dump(), "x"), Error);
}

// A job folder as gqa prepares it, without a tokenizer library: token files and a stand-in
// tokenizer.model (gqa-trainer only copies it).
TrainJob token_job(const fs::path& root, const std::string& name) {
  std::vector<int32_t> train, heldout;
  for (int i = 0; i < 6000; ++i) train.push_back((i * 7 + (i / 5) % 3) % 71);
  for (int i = 0; i < 800; ++i) heldout.push_back((i * 7 + (i / 5) % 3) % 71);
  TrainJob job;
  job.out = root / name;
  job.data = root / "corpus.txt";
  std::ofstream(job.data) << "text\n";
  job.config = small_config(2);
  job.tokens = 16 * 32 * 12;
  job.recipe.batch = 16;
  job.recipe.seq = 32;
  job.recipe.lr = 1e-2;
  job.recipe.precision = Precision::kF32;
  job.loop = {4, 4};
  job.eval_windows = 8;
  job.threads = 1;
  const fs::path partial = partial_dir(job.out);
  fs::create_directories(partial);
  io::write_token_file(partial / kTrainTokensFile, train);
  io::write_token_file(partial / kHeldoutTokensFile, heldout);
  std::ofstream(partial / kTokenizerFile) << "stand-in";
  return job;
}

TEST(TrainingRun, LearnsAPatternAndWritesACompleteCheckpoint) {
  test::TempDir tmp;
  const TrainJob job = token_job(tmp.path(), "run");
  const TrainingState s = run_prepared_job(job, {});
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(s.step, 12);
  EXPECT_EQ(s.tokens_seen, 16 * 32 * 12);
  EXPECT_EQ(s.pretraining_tokens, s.tokens_seen);
  ASSERT_EQ(s.history.size(), 3u);
  EXPECT_LT(s.history.back().heldout_loss, std::log(71.0) - 1.0);  // well below uniform
  EXPECT_FALSE(fs::exists(partial_dir(job.out)));
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model", kStateFile})
    EXPECT_TRUE(fs::exists(job.out / f)) << f;
  EXPECT_NO_THROW(model::Model m(job.out));
}

// Stopped after step 5 (checkpoint at 4), resumed: the same weights as an uninterrupted run.
TEST(TrainingRun, ResumedRunEqualsAnUninterruptedOne) {
  test::TempDir tmp;
  const TrainJob whole = token_job(tmp.path(), "whole");
  run_prepared_job(whole, {});

  TrainJob job = token_job(tmp.path(), "stopped");
  struct Stop {};
  JobEvents stop_at_5;
  stop_at_5.step = [](const StepReport& r) {
    if (r.step == 5) throw Stop{};
  };
  EXPECT_THROW(run_prepared_job(job, stop_at_5), Stop);
  EXPECT_FALSE(fs::exists(job.out));
  EXPECT_EQ(load_training_state(partial_dir(job.out) / "checkpoint" / kStateFile).step, 4);
  job.resume = true;
  const TrainingState s = run_prepared_job(job, {});
  EXPECT_EQ(s.step, 12);

  const TorchLlama a = TorchLlama::load(whole.out), b = TorchLlama::load(job.out);
  for (size_t i = 0; i < a.named_parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(a.named_parameters()[i].value, b.named_parameters()[i].value))
        << a.named_parameters()[i].name;
}

TEST(TrainingRun, UptrainingRunsAlphaOfTheSourceBudget) {
  test::TempDir tmp;
  const TrainJob pre = token_job(tmp.path(), "pre");
  run_prepared_job(pre, {});
  TrainJob up = token_job(tmp.path(), "up");
  up.config.reset();
  up.source = pre.out;
  up.alpha = 0.5;
  const TrainingState s = run_prepared_job(up, {});
  EXPECT_EQ(s.pretraining_tokens, 16 * 32 * 12);
  EXPECT_EQ(s.tokens_seen, 16 * 32 * 6);
  ASSERT_TRUE(s.uptrain.has_value());
  EXPECT_DOUBLE_EQ(s.uptrain->alpha, 0.5);
}

TEST(TrainJob, JsonRoundTripsAndChecksFolders) {
  test::TempDir tmp;
  TrainJob job = token_job(tmp.path(), "j");
  job.alpha = 0.1;
  job.heldout = job.data;
  const TrainJob r = job_from_json(job_to_json(job), "job.json");
  EXPECT_EQ(job_to_json(r), job_to_json(job));
  EXPECT_THROW(job_from_json("{\"out\": 3}", "job.json"), Error);
  // An unfinished run in the partial folder: neither resume nor force -> refused.
  job.alpha.reset();
  EXPECT_THROW(check_job(job), Error);
  job.force = true;
  EXPECT_NO_THROW(check_job(job));
  job.recipe.batch = 0;
  EXPECT_THROW(check_job(job), Error);
}

TEST(TokenFile, TruncatedFilesAreRejected) {
  test::TempDir tmp;
  const fs::path p = tmp.path() / "t.tokens";
  io::write_token_file(p, {1, 2, 3});
  EXPECT_EQ(io::read_token_file(p), (std::vector<int32_t>{1, 2, 3}));
  fs::resize_file(p, fs::file_size(p) - 2);
  EXPECT_THROW(io::read_token_file(p), Error);
  std::ofstream(p) << "not tokens at all";
  EXPECT_THROW(io::read_token_file(p), Error);
}

}  // namespace
}  // namespace gqa::train

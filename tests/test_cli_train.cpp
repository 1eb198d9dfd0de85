// gqa train, gqa uptrain and gqa reproduce as a person runs them: files written, the budget
// uptraining reads, errors for bad input, and the --quick reproduction on the committed model.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "counting_corpus.h"
#include "run_command.h"
#include "temp_dir.h"

namespace gqa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kShape =
    " --layers 2 --heads 4 --head-dim 16 --hidden 64 --intermediate 96 --vocab 300"
    " --batch 8 --seq 32 --threads 1 --quiet";

// Every family of the lesson, as a user takes it through gqa: train from its config.json,
// generate, ppl and bench in the native runtime, convert to one KV head, uptrain for alpha.
// Phi-3 with longrope switching at 16 (training windows of 32 use the long factors) and half the
// head rotated, SmolLM3 with a layer without RoPE, Gemma 3 with local and global layers.
class CliFamilies : public ::testing::TestWithParam<const char*> {};

TEST_P(CliFamilies, TrainGenerateEvaluateBenchConvertUptrain) {
  const json common = {{"num_hidden_layers", 4},     {"hidden_size", 64},
                       {"intermediate_size", 96},    {"num_attention_heads", 4},
                       {"num_key_value_heads", 2},   {"head_dim", 16},
                       {"vocab_size", 300},          {"max_position_embeddings", 64},
                       {"tie_word_embeddings", true}};
  json cfg = common;
  const std::string family = GetParam();
  if (family == "phi3") {
    cfg.update({{"architectures", {"Phi3ForCausalLM"}},
                {"model_type", "phi3"},
                {"partial_rotary_factor", 0.5},
                {"original_max_position_embeddings", 16},
                {"rope_scaling",
                 {{"type", "longrope"},
                  {"short_factor", {1.0, 1.1, 1.3, 1.6}},
                  {"long_factor", {1.0, 2.0, 4.0, 8.0}}}}});
  } else if (family == "smollm3") {
    cfg.update({{"architectures", {"SmolLM3ForCausalLM"}},
                {"model_type", "smollm3"},
                {"no_rope_layers", {1, 1, 1, 0}}});
  } else {
    cfg.update({{"architectures", {"Gemma3ForCausalLM"}},
                {"model_type", "gemma3_text"},
                {"sliding_window", 8},
                {"sliding_window_pattern", 2},
                {"query_pre_attn_scalar", 16},
                {"rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}}});
  }
  TempDir tmp;
  const fs::path corpus = write_corpus(tmp.path());
  std::ofstream(tmp / "config.json") << cfg.dump(2);
  const fs::path pre = tmp.path() / "pre";
  CommandResult r =
      run_gqa("train " + (tmp / "config.json").string() + " --data " + corpus.string() +
              " --vocab 300 --tokens 8192 --batch 8 --seq 32 --lr 5e-3 --threads 1 --quiet "
              "--out " +
              pre.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(slurp(pre / "config.json").find(family == "gemma3" ? "gemma3_text" : family),
            std::string::npos);
  r = run_gqa("generate " + pre.string() + " -p 'the one and' -n 6");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run_gqa("ppl " + pre.string() + " --file " + corpus.string() + " --ctx 32 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(json::parse(r.out)["ppl"].get<double>(), 300.0);  // learned something
  r = run_gqa("bench " + pre.string() + " -p 8 -n 4 --depth 0,16 --kv-dtype f16 --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const fs::path conv = tmp.path() / "conv";
  r = run_gqa("convert " + pre.string() + " " + conv.string() + " --kv-heads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_gqa("uptrain " + conv.string() + " --alpha 0.25 --data " + corpus.string() +
              " --threads 1 --quiet --json --out " + (tmp / "up").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["tokens_seen"], 8 * 256);  // ceil(0.25 * 8192 / 256) steps
  r = run_gqa("generate " + (tmp / "up").string() + " -p 'the one and' -n 6");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Families, CliFamilies, ::testing::Values("phi3", "smollm3", "gemma3"));

TEST(CliTrain, TrainThenConvertThenUptrainForAlpha) {
  TempDir tmp;
  const fs::path corpus = write_corpus(tmp.path());
  const fs::path pre = tmp.path() / "pre";
  CommandResult r = run_gqa("train" + kShape + " --data " + corpus.string() +
                            " --tokens 20000 --lr 5e-3 --out " + pre.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("held-out loss"), std::string::npos) << r.out;
  for (const char* f :
       {"config.json", "model.safetensors", "tokenizer.model", "training_state.json"})
    EXPECT_TRUE(fs::exists(pre / f)) << f;
  EXPECT_FALSE(fs::exists(tmp.path() / "pre.partial"));
  const json state = json::parse(slurp(pre / "training_state.json"));
  EXPECT_EQ(state["tokens_seen"], 79 * 256);  // 20000 rounded up to steps of 8 x 32
  EXPECT_EQ(state["pretraining_tokens"], state["tokens_seen"]);
  EXPECT_LT(state["history"].back()["heldout_loss"].get<double>(), 2.0);  // learned something

  // The trained model runs in the native runtime.
  r = run_gqa("generate " + pre.string() + " -p 'the one and' -n 4");
  EXPECT_EQ(r.exit_code, 0) << r.err;

  const fs::path conv = tmp.path() / "conv";
  r = run_gqa("convert " + pre.string() + " " + conv.string() + " --kv-heads 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path up = tmp.path() / "up";
  // The recipe (batch 8, seq 32, lr 5e-3) comes from the source's training_state.json.
  r = run_gqa("uptrain " + conv.string() + " --alpha 0.1 --data " + corpus.string() +
              " --threads 1 --quiet --json --out " + up.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json up_state = json::parse(r.out);
  EXPECT_EQ(up_state["pretraining_tokens"], 79 * 256);
  EXPECT_EQ(up_state["tokens_seen"], 8 * 256);  // ceil(0.1 * 20224 / 256) steps
  EXPECT_EQ(up_state["uptrain"]["alpha"], 0.1);
  EXPECT_EQ(up_state["recipe"]["lr"], 5e-3);
  EXPECT_EQ(up_state["recipe"]["batch"], 8);
  EXPECT_NE(slurp(up / "config.json").find("\"num_key_value_heads\": 2"), std::string::npos);
}

TEST(CliTrain, BadInputIsRefusedWithAMessageAndNothingWritten) {
  TempDir tmp;
  const fs::path corpus = write_corpus(tmp.path());
  const std::string out = " --out " + (tmp.path() / "m").string();
  auto expect_error = [&](const std::string& args, const std::string& says) {
    const CommandResult r = run_gqa(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(tmp.path() / "m")) << args;
  };
  expect_error("train" + kShape + " --data /nonexistent.txt --tokens 100" + out, "not found");
  expect_error("train" + kShape + " --data " + corpus.string() + " --tokens 0" + out, "--tokens");
  expect_error("train" + kShape + " --data " + corpus.string() + " --tokens 100 --kv-heads 3" + out,
               "1, 2, 4");
  expect_error("train" + kShape + " --data " + corpus.string() + " --tokens 100 --batch 0" + out,
               "batch");
  expect_error("train" + kShape + " --data " + corpus.string() + " --resume" + out,
               "nothing to resume");
  // A converted checkpoint without a recorded budget cannot be uptrained by alpha.
  const fs::path init = tmp.path() / "init";
  ASSERT_EQ(run_gqa("init " + init.string() +
                    " --layers 1 --heads 2 --head-dim 8 --hidden 16 --intermediate 32 --vocab 300")
                .exit_code,
            0);
  expect_error("uptrain " + init.string() + " --data " + corpus.string() + out,
               "training_state.json");
}

// The main job on the committed model, in its small profile: every variant, both plots, the
// table and findings. (The full run's numbers are in docs/reproduce.md.)
TEST(CliReproduce, QuickProfileRunsEveryVariant) {
  TempDir tmp;
  const fs::path out = tmp.path() / "repro";
  const CommandResult r = run_gqa("reproduce --quick --quiet --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Findings of the paper"), std::string::npos) << r.out;
  const json j = json::parse(slurp(out / "results.json"));
  ASSERT_EQ(j["variants"].size(),
            11u);  // mean 8-1, first-2, random-2, svd 4-1, svd+similar 4 and 2
  EXPECT_EQ(j["pretraining_tokens"], 2002944);
  const int64_t mha_bytes = 2 * 6 * 8 * 32 * 2;  // 2 L h_kv d_h, f16
  for (const auto& v : j["variants"]) {
    const int64_t kv = v["kv_heads"];
    EXPECT_EQ(v["kv_bytes_per_token_f16"], mha_bytes / 8 * kv) << v["name"];
    EXPECT_DOUBLE_EQ(v["compression"].get<double>(), 8.0 / static_cast<double>(kv));
    EXPECT_GT(v["decode_tokens_per_s"].get<double>(), 0);
    for (const auto& [alpha, ppl] : v["heldout_ppl_by_alpha"].items())
      EXPECT_TRUE(ppl.get<double>() > 1 && ppl.get<double>() < 4096) << v["name"] << alpha;
  }
  EXPECT_EQ(j["findings"].size(), 3u);
  for (const char* f : {"ppl_vs_kv_heads.svg", "ppl_vs_alpha.svg"})
    EXPECT_EQ(slurp(out / f).rfind("<svg", 0), 0u) << f;
}

// Ctrl-C while the trainer runs an uptraining: gqa reproduce exits 130 with one line that says
// what the output folder keeps, and the trainer (a child process) adds no line of its own.
TEST(CliReproduce, SigintDuringUptrainingSaysWhatWasKeptInOneLine) {
  TempDir tmp;
  const fs::path out = tmp.path() / "repro", err = tmp.path() / "err";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = std::string("exec ") + GQA_BINARY + " reproduce --quick --out " +
                            out.string() + " 2>" + err.string() + " >/dev/null";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 1200 && slurp(err).find("uptraining for alpha") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const std::string text = slurp(err);
  EXPECT_EQ(text.find("gqa train:"), std::string::npos) << text;
  size_t lines = 0;
  for (size_t at = 0; (at = text.find("interrupted", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 1u) << text;
  EXPECT_NE(text.find("keeps the steps that finished"), std::string::npos) << text;
  EXPECT_TRUE(fs::exists(out / "variants")) << text;
  EXPECT_FALSE(fs::exists(out / "results.json"));
}

}  // namespace
}  // namespace gqa::test

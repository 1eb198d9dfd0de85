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

#include "run_command.h"
#include "temp_dir.h"

namespace gqa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A small corpus with structure to learn: counting sentences in words.
fs::path write_corpus(const fs::path& dir) {
  const char* words[] = {"one", "two", "three", "four", "five", "six", "seven", "eight"};
  std::ofstream out(dir / "corpus.txt");
  for (int i = 0; i < 1500; ++i) {
    out << "the " << words[i % 8] << " and the " << words[(i + 1) % 8] << " came after the "
        << words[(i + 7) % 8] << ".\n";
  }
  return dir / "corpus.txt";
}

const std::string kShape =
    " --layers 2 --heads 4 --head-dim 16 --hidden 64 --intermediate 96 --vocab 300"
    " --batch 8 --seq 32 --threads 1 --quiet";

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
  ASSERT_EQ(j["variants"].size(), 6u);
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

// gqa generate, ppl and bench as people and scripts use them, on a tiny random checkpoint with
// a SentencePiece tokenizer trained here.
#include <gtest/gtest.h>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "run_command.h"
#include "temp_dir.h"

namespace gqa::test {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class CliRuntime : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::ofstream corpus(*dir_ / "corpus.txt");
    for (int i = 0; i < 300; ++i)
      corpus << "grouped query attention shares each key and value head across a group " << i
             << "\nthe cache holds keys and values of every token\n";
    corpus.close();
    const auto status = sentencepiece::SentencePieceTrainer::Train(
        "--input=" + (*dir_ / "corpus.txt").string() +
        " --model_prefix=" + (*dir_ / "tok").string() +
        " --vocab_size=300 --model_type=bpe --character_coverage=1.0 --unk_id=0 --bos_id=1"
        " --eos_id=2 --pad_id=-1 --minloglevel=2");
    ASSERT_TRUE(status.ok()) << status.ToString();
    const auto init = run_gqa("init " + ckpt() + " --layers 2 --heads 4 --head-dim 8 --hidden 32 " +
                              "--intermediate 64 --vocab 300 --dtype f32 --seed 5");
    ASSERT_EQ(init.exit_code, 0) << init.err;
    fs::copy_file(*dir_ / "tok.model", fs::path(ckpt()) / "tokenizer.model");
    std::ofstream(*dir_ / "text.txt")
        << "the cache holds keys and values of every token in a group "
           "of heads that share each key and value head\n";
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string ckpt() { return (*dir_ / "model").string(); }
  static std::string text() { return (*dir_ / "text.txt").string(); }
  static TempDir* dir_;
};
TempDir* CliRuntime::dir_ = nullptr;

TEST_F(CliRuntime, GenerateStreamsTextAndReportsSpeed) {
  const auto r = run_gqa("generate " + ckpt() + " -p 'the cache holds' -n 6");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_TRUE(contains(r.err, "prefill:")) << r.err;
  EXPECT_TRUE(contains(r.err, "tok/s")) << r.err;
  // Greedy is deterministic; sampling is deterministic for a seed.
  EXPECT_EQ(r.out, run_gqa("generate " + ckpt() + " -p 'the cache holds' -n 6").out);
  const auto a =
      run_gqa("generate " + ckpt() + " --tokens 1,5,9 -n 8 --temp 0.9 --top-k 20 --seed 4");
  const auto b =
      run_gqa("generate " + ckpt() + " --tokens 1,5,9 -n 8 --temp 0.9 --top-k 20 --seed 4");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

// What generate streams is exactly the tokenizer's decoding of the tokens it chose.
TEST_F(CliRuntime, StreamedTextIsTheDecodingOfTheGeneratedIds) {
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load((*dir_ / "tok.model").string()).ok());
  const std::string prompt = "the cache holds keys";
  std::vector<int> ids;
  ASSERT_TRUE(sp.Encode(prompt, &ids).ok());
  std::string list = "1";  // BOS, as the CLI adds it
  for (int id : ids) list += "," + std::to_string(id);
  const auto text = run_gqa("generate " + ckpt() + " -p '" + prompt + "' -n 12");
  const auto raw = run_gqa("generate " + ckpt() + " --tokens " + list + " -n 12");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  std::vector<int> generated;
  std::string item;
  for (char ch : raw.out) {
    if (ch == ',' || ch == '\n') {
      if (!item.empty()) generated.push_back(std::stoi(item));
      item.clear();
    } else {
      item.push_back(ch);
    }
  }
  std::string decoded;
  sp.Decode(generated, &decoded);
  EXPECT_EQ(text.out, decoded + "\n");
}

TEST_F(CliRuntime, PerplexityBaselineAndKldAgainstItself) {
  const std::string base = (*dir_ / "base.logp").string();
  const auto s = run_gqa("ppl " + ckpt() + " --file " + text() + " --ctx 16 --save-logits " + base +
                         " --json");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto js = nlohmann::json::parse(s.out);
  EXPECT_GT(js["ppl"].get<double>(), 1.0);
  const auto k =
      run_gqa("ppl " + ckpt() + " --file " + text() + " --ctx 16 --kld " + base + " --json");
  ASSERT_EQ(k.exit_code, 0) << k.err;
  const auto jk = nlohmann::json::parse(k.out);
  EXPECT_NEAR(jk["kld_mean"].get<double>(), 0.0, 1e-9);
  EXPECT_EQ(jk["top1_agreement"].get<double>(), 1.0);
  EXPECT_NEAR(jk["delta_ppl"].get<double>(), 0.0, 1e-9);
  const auto bad = run_gqa("ppl " + ckpt() + " --file " + text() + " --ctx 8 --kld " + base);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.err, "differ")) << bad.err;
}

TEST_F(CliRuntime, EveryKvDtypeRunsAndQuantizedCachesStayCloseToF32) {
  const std::string base = (*dir_ / "f32.logp").string();
  ASSERT_EQ(run_gqa("ppl " + ckpt() + " --file " + text() + " --save-logits " + base).exit_code, 0);
  for (const char* t : {"f16", "bf16", "fp8", "fp8-e5m2", "int8"}) {
    const auto r = run_gqa("ppl " + ckpt() + " --file " + text() + " --kv-dtype " + t + " --kld " +
                           base + " --json");
    ASSERT_EQ(r.exit_code, 0) << t << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_LT(j["kld_mean"].get<double>(), 0.05) << t;
    EXPECT_EQ(j["kv_dtype"], t);
  }
}

TEST_F(CliRuntime, BenchReportsPrefillAndDecodeAtEachDepth) {
  const auto r = run_gqa("bench " + ckpt() + " -p 4 -n 4 --depth 0,16 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["rows"].size(), 4u);
  EXPECT_EQ(j["rows"][0]["test"], "pp4");
  EXPECT_EQ(j["rows"][3]["test"], "tg4");
  EXPECT_EQ(j["rows"][3]["depth"], 16);
  EXPECT_GT(j["rows"][3]["tokens_per_s"].get<double>(), 0.0);
}

TEST_F(CliRuntime, BadInputIsOneLineAndExitTwo) {
  const std::string json_only = (*dir_ / "json_only").string();
  fs::create_directories(json_only);
  for (const auto& e : fs::directory_iterator(ckpt()))
    if (e.path().filename() != "tokenizer.model")
      fs::copy_file(e.path(), json_only / e.path().filename());
  std::ofstream(fs::path(json_only) / "tokenizer.json") << "{}";
  const std::pair<std::string, std::string> cases[] = {
      {"generate " + ckpt() + " -p hi --tokens 1,2", "exactly one"},
      {"generate " + ckpt() + " --tokens 1,x", "not a token id"},
      {"generate " + ckpt() + " --tokens 1,99999", "outside the vocabulary"},
      {"generate " + ckpt() + " --tokens 1 --top-p 2", "--top-p"},
      {"generate " + json_only + " -p hello", "tokenizer.json: no \"model\" object"},
      {"generate " + (*dir_ / "none").string() + " --tokens 1", "no such checkpoint folder"},
      {"ppl " + ckpt() + " --file " + (*dir_ / "missing.txt").string(), "cannot open"},
      {"ppl " + ckpt() + " --file " + text() + " --kld " + text(), "not a gqa log-prob file"},
      {"bench " + ckpt() + " --depth 0,x", "--depth"},
      {"bench " + ckpt() + " --kv-dtype q4_0", "planner-only"},
      {"generate " + ckpt() + " --tokens 1 --kv-dtype f12", "unknown KV dtype"},
      {"ppl " + ckpt() + " --file " + text() + " --block-size 0", "--block-size"},
  };
  for (const auto& [args, says] : cases) {
    const auto r = run_gqa(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, says)) << args << "\n" << r.err;
  }
}

}  // namespace
}  // namespace gqa::test

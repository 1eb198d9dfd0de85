// gqa kv as a person and a script see it: the text, the JSON, the exit codes and the one-line
// errors on stderr.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "run_command.h"

namespace gqa::test {
namespace {

namespace fs = std::filesystem;
const std::string kConfigs = std::string(GQA_TEST_DATA) + "/configs";

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

void expect_one_line_error(const std::string& args, const std::string& must_say) {
  const CommandResult r = run_gqa(args);
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
  EXPECT_TRUE(contains(r.err, must_say)) << args << "\n" << r.err;
  EXPECT_TRUE(r.out.empty()) << args << "\n" << r.out;
}

TEST(CliKv, AnUnknownKernelLevelInGqaIsaIsAUsageError) {
  const char* before = std::getenv("GQA_ISA");
  const std::string kept = before ? before : "";
  setenv("GQA_ISA", "avx1024", 1);
  const CommandResult r = run_gqa("kv llama-2-7b");
  if (before)
    setenv("GQA_ISA", kept.c_str(), 1);
  else
    unsetenv("GQA_ISA");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "GQA_ISA='avx1024'")) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(CliKv, Llama2SevenBWithEightKvHeadsPrintsTheLessonFigures) {
  const CommandResult r = run_gqa("kv llama-2-7b --kv-heads 8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* figure : {"0.50 MiB", "0.125 MiB", "2048 MiB", "512 MiB", "4.00x", "GQA-8"})
    EXPECT_TRUE(contains(r.out, figure)) << figure << "\n" << r.out;
}

TEST(CliKv, TenUsersMhaIsTwentyGiB) {
  const CommandResult r = run_gqa("kv llama-2-7b --users 10 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kv_bytes_total"], int64_t{20} << 30);
  EXPECT_TRUE(contains(run_gqa("kv llama-2-7b --users 10").out, "20 GiB"));
}

TEST(CliKv, JsonSweepWithMemoryHasRowsAndSessions) {
  const CommandResult r = run_gqa("kv llama-2-7b --sweep --memory 80GiB --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["rows"].size(), 6u);
  EXPECT_EQ(j["rows"][2]["kv_heads"], 8);
  EXPECT_EQ(j["rows"][2]["kv_bytes_per_token"], 131072);
  EXPECT_GT(j["rows"][5]["sessions_fit"].get<int64_t>(),
            j["rows"][0]["sessions_fit"].get<int64_t>());
  EXPECT_EQ(j["memory_bytes"], int64_t{80} << 30);
}

TEST(CliKv, ConfigFileAndModelByHand) {
  const CommandResult q = run_gqa("kv --config " + kConfigs + "/qwen3-4b.json --json");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_EQ(nlohmann::json::parse(q.out)["kv_bytes_per_token"], 147456);
  const CommandResult p = run_gqa("kv " + kConfigs + "/qwen3-4b.json --json");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(nlohmann::json::parse(p.out)["head_dim"], 128);
  const CommandResult h = run_gqa("kv --layers 32 --heads 32 --head-dim 128 --kv-heads 8 --json");
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_EQ(nlohmann::json::parse(h.out)["kv_bytes_per_token"], 131072);
}

TEST(CliKv, PerLayerBreakdownShowsSlidingWindows) {
  const CommandResult r = run_gqa("kv gemma-3-4b --per-layer --ctx 8192");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "29 of 34 layers keep min(ctx, 1024)")) << r.out;
  EXPECT_TRUE(contains(r.out, "sliding")) << r.out;
}

TEST(CliKv, ListPresetsNamesEveryReferenceModel) {
  const CommandResult r = run_gqa("kv --list-presets");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"llama-2-7b", "qwen3-4b", "gemma-3-4b", "stories15m", "147456"})
    EXPECT_TRUE(contains(r.out, name)) << name;
  const auto j = nlohmann::json::parse(run_gqa("kv --list-presets --json").out);
  EXPECT_EQ(j.size(), 23u);
}

// An 8B model in 4-bit weights on one RTX 4090 with 10% overhead: 8 users at 8192 tokens fit,
// and the verdict names what they need, the longest context each could have and the users
// that fit.
TEST(CliKv, TheVerdictOnAGpuWithFourBitWeights) {
  const auto r = run_gqa(
      "kv llama-3.1-8b --gpu rtx-4090 --users 8 --ctx 8192 --weights-dtype int4-g128 "
      "--overhead 10% --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["memory_bytes"], int64_t{24} << 30);
  EXPECT_EQ(j["fits"], true);
  EXPECT_EQ(j["gpu_bytes_needed"].get<int64_t>(), j["weights_bytes"].get<int64_t>() +
                                                      j["overhead_bytes"].get<int64_t>() +
                                                      8 * 8192 * int64_t{131072});
  EXPECT_GT(j["max_ctx"].get<int64_t>(), 8192);
  EXPECT_GE(j["sessions_fit"].get<int64_t>(), 8);
  const auto text =
      run_gqa("kv llama-3.1-8b --gpu rtx-4090 --users 64 --ctx 8192 --weights-dtype int4-g128");
  EXPECT_TRUE(contains(text.out, "DOES NOT FIT: 64 users at 8192 tokens")) << text.out;
  const auto tp = run_gqa("kv llama-3.1-8b --gpu h100-80gb --tp 16");
  EXPECT_TRUE(contains(tp.out, "each KV head replicated on 2 GPUs")) << tp.out;
  const auto gpus = nlohmann::json::parse(run_gqa("kv --list-gpus --json").out);
  EXPECT_GE(gpus.size(), 10u);
}

TEST(CliKv, UsageLinesNameGqaNotTheBinarysPath) {
  const auto r = run_gqa("kv --help");
  EXPECT_TRUE(contains(r.out, "Usage: gqa kv")) << r.out.substr(0, 200);
}

TEST(CliKv, BadInputGivesOneLineAndExitTwo) {
  expect_one_line_error("kv llama-2-7b --kv-heads 5", "1, 2, 4, 8, 16, 32");
  expect_one_line_error("kv llama-2-7b --kv-heads 0", "valid KV head counts");
  expect_one_line_error("kv --config /nonexistent/config.json", "cannot open");
  expect_one_line_error("kv llama-2-7b --kv-dtyp f16", "did you mean --kv-dtype?");
  expect_one_line_error("kv /nonexistent/config.json", "no such file or folder");
  expect_one_line_error("kv gpt-4", "unknown model 'gpt-4'");
  expect_one_line_error("kv llama-2-7b --ctx 0", "--ctx");
  expect_one_line_error("kv llama-2-7b --ctx -5", "--ctx");
  expect_one_line_error("kv llama-2-7b --ctx 99999999999999", "absurd");
  expect_one_line_error("kv llama-2-7b --ctx abc", "--ctx");
  expect_one_line_error("kv llama-2-7b --users 0", "--users");
  expect_one_line_error("kv llama-2-7b --block-size 0", "--block-size");
  expect_one_line_error("kv llama-2-7b --memory lots", "memory size");
  expect_one_line_error("kv llama-2-7b --kv-dtype q5_1", "unknown KV dtype");
  expect_one_line_error("kv llama-2-7b --weights-dtype f12", "unknown weights format");
  expect_one_line_error("kv llama-3.1-8b --memory 80GiB --tp 3", "cannot split 8 KV heads");
  expect_one_line_error("kv llama-3.1-8b --gpu h101", "unknown GPU");
  expect_one_line_error("kv llama-3.1-8b --tp 2", "--tp needs --memory or --gpu");
  expect_one_line_error("kv llama-3.1-8b --gpu h100-80gb --overhead 120%", "bad overhead");
  expect_one_line_error("kv", "no model");
  expect_one_line_error("kv llama-2-7b --layers 4", "one way only");
  expect_one_line_error("kv --layers 4 --heads 32", "--head-dim");
  expect_one_line_error("kv --layers 4 --heads 32 --head-dim 0", "head_dim");
  expect_one_line_error("kv llama-2-7b --no-such-flag", "--no-such-flag");
  expect_one_line_error("frobnicate", "frobnicate");
}

TEST(CliKv, MalformedAndIndivisibleConfigFilesAreOneLineErrors) {
  const fs::path dir = fs::temp_directory_path() / ("gqa_cli_cfg_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "truncated.json") << R"({"architectures": ["LlamaForCausalLM"], "num_hid)";
  std::ofstream(dir / "five.json")
      << R"({"architectures": ["LlamaForCausalLM"], "num_hidden_layers": 2, "num_attention_heads": 32,
            "num_key_value_heads": 5, "hidden_size": 4096, "intermediate_size": 11008,
            "vocab_size": 32000})";
  expect_one_line_error("kv --config " + (dir / "truncated.json").string(), "malformed JSON");
  expect_one_line_error("kv --config " + (dir / "five.json").string(), "not divisible");
  expect_one_line_error("kv --config " + dir.string(), "config.json");  // folder without one
  fs::remove_all(dir);
}

TEST(CliKv, HelpAndVersionExitZero) {
  const CommandResult help = run_gqa("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.out, "kv"));
  const CommandResult kv_help = run_gqa("kv --help");
  EXPECT_EQ(kv_help.exit_code, 0);
  EXPECT_TRUE(contains(kv_help.out, "--kv-dtype"));
  EXPECT_TRUE(contains(kv_help.out, "2 (K and V) x L layers"));
  const CommandResult version = run_gqa("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(contains(version.out, "gqa "));
}

}  // namespace
}  // namespace gqa::test

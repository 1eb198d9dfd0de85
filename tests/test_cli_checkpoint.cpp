// gqa init, inspect and convert as a person and a script use them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "run_command.h"
#include "temp_dir.h"

namespace gqa::test {
namespace {

const std::string kTiny =
    "--layers 2 --heads 8 --head-dim 8 --hidden 32 --intermediate 48 --vocab 64 --dtype f32";

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(CliCheckpoint, InitInspectConvertInspect) {
  TempDir dir;
  const std::string src = (dir / "src").string(), dst = (dir / "dst").string();
  const auto init = run_gqa("init " + src + " " + kTiny + " --seed 3");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  const auto ins = run_gqa("inspect " + src + " --json");
  ASSERT_EQ(ins.exit_code, 0) << ins.err;
  const auto j = nlohmann::json::parse(ins.out);
  EXPECT_EQ(j["config"]["kv_heads"], 8);
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_EQ(j["kv_bytes_per_token"]["f16"], 2 * 2 * 8 * 8 * 2);

  const auto conv = run_gqa("convert " + src + " " + dst + " --kv-heads 2");
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  EXPECT_TRUE(contains(conv.out, "8 KV heads -> 2")) << conv.out;
  const auto after = nlohmann::json::parse(run_gqa("inspect " + dst + " --json").out);
  EXPECT_EQ(after["config"]["kv_heads"], 2);
  EXPECT_TRUE(after["ok"].get<bool>());
  EXPECT_EQ(after["kv_bytes_per_token"]["f16"], 2 * 2 * 2 * 8 * 2);
  const auto text = run_gqa("inspect " + dst);
  EXPECT_TRUE(contains(text.out, "self_attn.k_proj.weight")) << text.out;
  EXPECT_TRUE(contains(text.out, "[16, 32]")) << text.out;  // 2 KV heads x head_dim 8
}

TEST(CliCheckpoint, InitIsDeterministicForASeed) {
  TempDir dir;
  ASSERT_EQ(run_gqa("init " + (dir / "a").string() + " " + kTiny + " --seed 9").exit_code, 0);
  ASSERT_EQ(run_gqa("init " + (dir / "b").string() + " " + kTiny + " --seed 9").exit_code, 0);
  ASSERT_EQ(run_gqa("init " + (dir / "c").string() + " " + kTiny + " --seed 10").exit_code, 0);
  const auto a = slurp(dir / "a" / "model.safetensors");
  EXPECT_EQ(a, slurp(dir / "b" / "model.safetensors"));
  EXPECT_NE(a, slurp(dir / "c" / "model.safetensors"));
}

TEST(CliCheckpoint, BadInputIsOneLineAndExitTwoAndLeavesNothing) {
  TempDir dir;
  const std::string src = (dir / "src").string();
  ASSERT_EQ(run_gqa("init " + src + " " + kTiny).exit_code, 0);
  struct Case {
    std::string args, says;
  };
  const Case cases[] = {
      {"convert " + src + " " + (dir / "d").string() + " --kv-heads 3", "valid values: 1, 2, 4, 8"},
      {"convert " + src + " " + (dir / "d").string() + " --kv-heads 2 --method best", "--method"},
      {"convert " + src + " " + (dir / "d").string() + " --kv-heads 2 --dtype q4", "dtype"},
      {"convert " + (dir / "nope").string() + " " + (dir / "d").string() + " --kv-heads 2",
       "no such checkpoint folder"},
      {"convert " + src + " " + src + " --kv-heads 2", "outside the source"},
      {"convert " + src + " " + (dir / "d").string(), "--kv-heads"},
      {"inspect " + (dir / "nope").string(), "no such checkpoint folder"},
      {"inspect " + src + "/config.json", "is a file, not a checkpoint folder"},
      {"kv " + (dir / "nope.json").string(), "no such file or folder"},
      {"init " + src + " " + kTiny, "exists"},
      {"init " + (dir / "x").string() + " --layers 2 --heads 8 --head-dim 8", "intermediate"},
      {"import-llama2c " + (dir / "none.bin").string() + " " + (dir / "d").string(), "cannot open"},
  };
  for (const auto& c : cases) {
    const auto r = run_gqa(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, c.says)) << c.args << "\n" << r.err;
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename(), "src") << e.path();
}

TEST(CliCheckpoint, InspectFlagsMisshapedTensorsWithExitTwo) {
  TempDir dir;
  const std::string src = (dir / "src").string();
  ASSERT_EQ(run_gqa("init " + src + " " + kTiny).exit_code, 0);
  std::string cfg = slurp(dir / "src" / "config.json");
  cfg.replace(cfg.find("\"num_key_value_heads\": 8"), 24, "\"num_key_value_heads\": 4");
  std::ofstream(dir / "src" / "config.json") << cfg;
  const auto r = run_gqa("inspect " + src);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.out, "MISSHAPED model.layers.0.self_attn.k_proj.weight")) << r.out;
  EXPECT_TRUE(contains(r.out, "check: FAILED")) << r.out;
}

}  // namespace
}  // namespace gqa::test

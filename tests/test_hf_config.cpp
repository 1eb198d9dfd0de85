#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/hf_config.h"
#include "core/error.h"
#include "run_command.h"

namespace gqa {
namespace {

namespace fs = std::filesystem;
const fs::path kConfigs = fs::path(GQA_TEST_DATA) / "configs";

ModelConfig load(const char* file) {
  return load_hf_config(kConfigs / file);
}

std::string parse_error(const std::string& text) {
  try {
    parse_hf_config(text, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

int64_t count_sliding(const ModelConfig& c) {
  return std::count(c.layer_types.begin(), c.layer_types.end(), LayerAttention::kSliding);
}

TEST(HfConfig, Qwen3ExplicitHeadDimWinsOverHiddenOverHeads) {
  const ModelConfig c = load("qwen3-4b.json");
  EXPECT_EQ(c.arch, Architecture::kQwen3);
  EXPECT_EQ(c.head_dim, 128);  // hidden / heads would be 80
  EXPECT_EQ(c.kv_bytes_per_token(KvDtype::kF16), 147456);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_EQ(count_sliding(c), 0);  // use_sliding_window is false
  EXPECT_EQ(c.parameter_count(), 4'022'468'096);
}

// A pasted config (the planner page) is named by its repository, else its class.
TEST(HfConfig, AConfigGivenAsTextIsNamedByNameOrPathThenArchitecture) {
  const std::string body =
      R"("num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 64,
         "intermediate_size": 128, "vocab_size": 100)";
  EXPECT_EQ(
      parse_hf_config(R"({"_name_or_path": "me/tiny", "model_type": "llama", )" + body + "}", "x")
          .name,
      "me/tiny");
  EXPECT_EQ(parse_hf_config(R"({"architectures": ["Qwen2ForCausalLM"], )" + body + "}", "x").name,
            "Qwen2ForCausalLM");
}

TEST(HfConfig, LlamaTwoMhaFieldsAndDefaults) {
  const ModelConfig c = load("llama-2-7b.json");
  EXPECT_EQ(c.layers, 32);
  EXPECT_EQ(c.heads, 32);
  EXPECT_EQ(c.kv_heads, 32);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);  // absent: the default
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-5);
  EXPECT_FALSE(c.rope_scaling.has_value());
  EXPECT_EQ(c.torch_dtype, "float16");
  EXPECT_EQ(c.name, "llama-2-7b");
  EXPECT_EQ(c.kv_bytes_per_token(KvDtype::kF16), 524288);
}

TEST(HfConfig, Llama31RopeScalingIsRead) {
  const ModelConfig c = load("llama-3.1-8b.json");
  ASSERT_TRUE(c.rope_scaling.has_value());
  EXPECT_EQ(c.rope_scaling->type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling->factor.value_or(0), 8.0);
  EXPECT_EQ(c.rope_scaling->original_max_positions, 8192);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.kv_bytes_per_token(KvDtype::kF16), 131072);
}

TEST(HfConfig, Gemma3NestedTextConfigWithClassDefaults) {
  const ModelConfig c = load("gemma-3-4b-it.json");
  EXPECT_EQ(c.arch, Architecture::kGemma3);
  EXPECT_EQ(c.layers, 34);
  EXPECT_EQ(c.heads, 8);
  EXPECT_EQ(c.kv_heads, 4);
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.vocab, 262208);
  EXPECT_EQ(c.sliding_window, 1024);
  EXPECT_EQ(count_sliding(c), 29);  // 5 local : 1 global
  EXPECT_EQ(c.layer_types[5], LayerAttention::kFull);
  EXPECT_EQ(c.kv_bytes_per_token(KvDtype::kF16), 139264);
  ASSERT_TRUE(c.rope_scaling.has_value());
  EXPECT_EQ(c.rope_scaling->type, "linear");
}

TEST(HfConfig, MistralSlidesOnEveryLayerQwen2OnlyWhenEnabled) {
  const ModelConfig m = load("mistral-7b-v0.1.json");
  EXPECT_EQ(count_sliding(m), 32);
  EXPECT_EQ(m.layer_tokens_held(0, 32768), 4096);
  EXPECT_EQ(m.layer_tokens_held(0, 1000), 1000);
  const ModelConfig q = load("qwen2.5-0.5b.json");
  EXPECT_EQ(count_sliding(q), 0);
  EXPECT_TRUE(q.qkv_bias);
  EXPECT_EQ(q.kv_bytes_per_token(KvDtype::kF16), 12288);
}

TEST(HfConfig, PhiAndSmolLm) {
  const ModelConfig p = load("phi-4-mini-instruct.json");
  EXPECT_EQ(p.arch, Architecture::kPhi3);
  EXPECT_DOUBLE_EQ(p.partial_rotary_factor, 0.75);
  EXPECT_EQ(p.head_dim, 128);  // 3072 / 24
  EXPECT_EQ(p.kv_bytes_per_token(KvDtype::kF16), 131072);
  const ModelConfig s = load("smollm2-135m.json");
  EXPECT_EQ(s.kv_bytes_per_token(KvDtype::kF16), 23040);
}

TEST(HfConfig, ExplicitLayerTypesArrayWins) {
  const std::string text = R"({"architectures": ["Qwen3ForCausalLM"], "num_hidden_layers": 4,
    "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 64, "hidden_size": 512,
    "intermediate_size": 1024, "vocab_size": 1000, "sliding_window": 128,
    "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]})";
  const ModelConfig c = parse_hf_config(text, "config.json");
  EXPECT_EQ(count_sliding(c), 2);
  EXPECT_EQ(c.layer_tokens_held(0, 4096), 128);
  EXPECT_EQ(c.layer_tokens_held(1, 4096), 4096);
}

TEST(HfConfig, MalformedJsonAndWrongTypesNameTheProblem) {
  EXPECT_NE(parse_error("{\"num_hidden_layers\": 32,").find("malformed JSON"), std::string::npos);
  EXPECT_NE(parse_error("[1, 2]").find("object"), std::string::npos);
  const std::string wrong_type = R"({"architectures": ["LlamaForCausalLM"],
    "num_hidden_layers": "32", "num_attention_heads": 32, "hidden_size": 4096,
    "intermediate_size": 11008, "vocab_size": 32000})";
  const std::string msg = parse_error(wrong_type);
  EXPECT_NE(msg.find("num_hidden_layers"), std::string::npos) << msg;
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;
}

TEST(HfConfig, MissingFieldsAreNamed) {
  const std::string text = R"({"architectures": ["LlamaForCausalLM"], "num_hidden_layers": 32,
    "num_attention_heads": 32, "intermediate_size": 11008, "vocab_size": 32000})";
  const std::string msg = parse_error(text);
  EXPECT_NE(msg.find("missing field 'hidden_size'"), std::string::npos) << msg;
}

TEST(HfConfig, UnknownArchitectureListsTheSupportedOnes) {
  const std::string text = R"({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"})";
  const std::string msg = parse_error(text);
  EXPECT_NE(msg.find("GPT2LMHeadModel"), std::string::npos) << msg;
  EXPECT_NE(msg.find("LlamaForCausalLM"), std::string::npos) << msg;
  EXPECT_NE(parse_error("{}").find("architectures"), std::string::npos);
}

TEST(HfConfig, IndivisibleHeadsAndBadValuesAreRejected) {
  const std::string base = R"({"architectures": ["LlamaForCausalLM"], "num_hidden_layers": 2,
    "num_attention_heads": 32, "hidden_size": 4096, "intermediate_size": 11008,
    "vocab_size": 32000, )";
  EXPECT_NE(parse_error(base + R"("num_key_value_heads": 5})").find("1, 2, 4, 8, 16, 32"),
            std::string::npos);
  EXPECT_NE(parse_error(base + R"("num_key_value_heads": 0})").find("num_key_value_heads"),
            std::string::npos);
  EXPECT_NE(parse_error(base + R"("head_dim": -128})").find("head_dim"), std::string::npos);
  EXPECT_NE(parse_error(base + R"("rope_theta": "big"})").find("rope_theta"), std::string::npos);
}

TEST(HfConfig, MissingFileAndFolderWithoutConfigAreIoErrors) {
  EXPECT_THROW(load_hf_config(kConfigs / "no-such.json"), Error);
  const fs::path empty = fs::temp_directory_path() / ("gqa_empty_" + std::to_string(::getpid()));
  fs::create_directories(empty);
  try {
    load_hf_config(empty);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos);
  }
  fs::remove_all(empty);
}

TEST(HfConfig, CheckpointFolderIsNamedAfterItself) {
  const fs::path dir =
      fs::temp_directory_path() / ("gqa_ckpt_" + std::to_string(::getpid())) / "Qwen3-4B";
  fs::create_directories(dir);
  fs::copy_file(kConfigs / "qwen3-4b.json", dir / "config.json",
                fs::copy_options::overwrite_existing);
  EXPECT_EQ(load_hf_config(dir).name, "Qwen3-4B");
  EXPECT_EQ(load_hf_config(dir.string() + "/").name, "Qwen3-4B");
  fs::remove_all(dir.parent_path());
}

}  // namespace
}  // namespace gqa

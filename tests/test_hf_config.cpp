#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/hf_config.h"
#include "config/hf_config_writer.h"
#include "config/presets.h"
#include "config/rope_frequencies.h"
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

std::string runnable_error(const ModelConfig& c) {
  try {
    require_runnable(c, "m", "the runtime");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// What the runtime of each family reads, and the settings it does not implement, named.
TEST(HfConfig, FamilySettingsAreReadAndUnimplementedOnesNamed) {
  const ModelConfig phi = load("phi-4-mini-instruct.json");
  EXPECT_EQ(phi.original_max_positions, 4096);
  EXPECT_EQ(phi.rotary_dim(), 96);
  EXPECT_EQ(runnable_error(phi), "");

  const std::string longrope = R"({"architectures": ["Phi3ForCausalLM"], "num_hidden_layers": 2,
    "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4, "vocab_size": 100,
    "partial_rotary_factor": 0.5, "max_position_embeddings": 131072,
    "original_max_position_embeddings": 4096, "rope_scaling": {"type": "longrope",
    "short_factor": [1, 2, 3, 4], "long_factor": [5, 6, 7, 8]}})";
  const ModelConfig lr = parse_hf_config(longrope, "phi.json");
  EXPECT_EQ(lr.rope_scaling->long_factor, (std::vector<double>{5, 6, 7, 8}));
  EXPECT_EQ(longrope_switch(lr), 4096);
  const RopeTable short_t = rope_table(lr, 0), long_t = rope_table(lr, 0, true);
  ASSERT_EQ(long_t.inv_freq.size(), 4u);  // 16 * 0.5 rotated values
  EXPECT_FLOAT_EQ(long_t.inv_freq[1], 1.0f / (6.0f * std::pow(10000.0f, 0.25f)));
  EXPECT_FLOAT_EQ(short_t.inv_freq[0], 1.0f);
  // transformers' default: sqrt(1 + ln(131072 / 4096) / ln(4096)).
  EXPECT_NEAR(long_t.attention_scale, std::sqrt(1 + std::log(32.0) / std::log(4096.0)), 1e-12);
  std::string bad = longrope;
  bad.replace(bad.find("[5, 6, 7, 8]"), 12, "[5, 6]");
  EXPECT_NE(parse_error(bad).find("long_factor has 2 factors"), std::string::npos);

  const std::string smol = R"({"architectures": ["SmolLM3ForCausalLM"], "num_hidden_layers": 8,
    "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4, "vocab_size": 100,
    "use_sliding_window": true, "sliding_window": 16})";
  const ModelConfig sm = parse_hf_config(smol, "smol.json");
  EXPECT_FALSE(sm.uses_rope(3));
  EXPECT_TRUE(sm.uses_rope(4));
  EXPECT_EQ(sm.layer_types[7], LayerAttention::kSliding);  // sliding on the layers without RoPE
  EXPECT_EQ(count_sliding(sm), 2);
  EXPECT_TRUE(rope_table(sm, 3).inv_freq.empty());

  const ModelConfig g = load("gemma-3-4b-it.json");
  EXPECT_EQ(g.query_pre_attn_scalar, 256);
  EXPECT_EQ(g.hidden_act, Activation::kGeluTanh);
  EXPECT_EQ(rope_table(g, 0).inv_freq[1], rope_inv_freq(256, 10000.0, std::nullopt)[1]);  // local
  EXPECT_EQ(runnable_error(g), "");

  // transformers 5's rope_parameters, one per layer type.
  const ModelConfig g5 = parse_hf_config(
      R"({"architectures": ["Gemma3ForCausalLM"], "num_hidden_layers": 6, "hidden_size": 64,
          "intermediate_size": 96, "rope_parameters": {
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}})",
      "g5.json");
  EXPECT_EQ(g5.rope_theta, 1e6);
  EXPECT_EQ(g5.rope_local_theta, 1e4);
  EXPECT_EQ(g5.rope_scaling->factor, 8.0);

  const std::string llama = R"({"architectures": ["LlamaForCausalLM"], "num_hidden_layers": 2,
    "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4, "vocab_size": 100)";
  EXPECT_EQ(runnable_error(parse_hf_config(llama + "}", "l.json")), "");
  EXPECT_EQ(parse_hf_config(llama + R"(, "resid_pdrop": 0.1, "attention_dropout": 0.0})", "l.json")
                .dropout,
            0.1);  // the runtime runs it; training refuses it (tests/test_train.cpp)
  for (const auto& [extra, named] : std::vector<std::pair<std::string, std::string>>{
           {R"(, "mlp_bias": true})", "mlp_bias"},
           {R"(, "hidden_act": "gelu"})", "hidden_act: \"gelu\""},
           {R"(, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})", "yarn"},
           {R"(, "use_bidirectional_attention": true})", "use_bidirectional_attention"}}) {
    const ModelConfig c = parse_hf_config(llama + extra, "l.json");  // the planner reads it
    EXPECT_NE(runnable_error(c).find(named), std::string::npos) << runnable_error(c);
  }
  EXPECT_NE(runnable_error(parse_hf_config(R"({"architectures": ["Gemma3ForCausalLM"],
      "num_hidden_layers": 6, "hidden_size": 64, "intermediate_size": 96,
      "attn_logit_softcapping": 50.0})",
                                           "g.json"))
                .find("attn_logit_softcapping"),
            std::string::npos);
}

// gqa init and gqa train write these settings back, and they read the same.
TEST(HfConfig, FamilySettingsSurviveTheConfigWriter) {
  for (const char* name : {"phi-4-mini", "smollm3-3b", "gemma-3-27b"}) {
    const ModelConfig c = find_preset(name)->config;
    const ModelConfig back = parse_hf_config(to_hf_config_json(c), name);
    EXPECT_EQ(
        back.layer_rope.empty() ? std::vector<bool>(c.layer_rope.size(), true) : back.layer_rope,
        c.layer_rope.empty() ? std::vector<bool>(back.layer_rope.size(), true) : c.layer_rope)
        << name;
    EXPECT_EQ(back.partial_rotary_factor, c.partial_rotary_factor) << name;
    EXPECT_EQ(back.query_pre_attn_scalar, c.query_pre_attn_scalar) << name;
    EXPECT_EQ(back.hidden_act, c.hidden_act) << name;
    EXPECT_EQ(back.layer_types, c.layer_types) << name;
    EXPECT_EQ(back.not_implemented, std::vector<std::string>{}) << name;
  }
  ModelConfig lr = find_preset("phi-4-mini")->config;
  lr.rope_scaling = RopeScaling{};
  lr.rope_scaling->type = "longrope";
  lr.rope_scaling->short_factor.assign(48, 1.5);
  lr.rope_scaling->long_factor.assign(48, 7.0);
  lr.original_max_positions = 4096;
  const ModelConfig back = parse_hf_config(to_hf_config_json(lr), "lr.json");
  EXPECT_EQ(back.rope_scaling->long_factor, lr.rope_scaling->long_factor);
  EXPECT_EQ(longrope_switch(back), 4096);
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

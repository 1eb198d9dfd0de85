#include <gtest/gtest.h>

#include <string>

#include "config/model_config.h"
#include "config/presets.h"
#include "core/error.h"

namespace gqa {
namespace {

const ModelConfig& preset(const char* name) {
  const Preset* p = find_preset(name);
  EXPECT_NE(p, nullptr) << name;
  return p->config;
}

std::string error_of(const ModelConfig& c) {
  try {
    c.validate();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, HeadsNotDivisibleByKvHeadsNamesTheValidCounts) {
  ModelConfig c = preset("llama-2-7b");
  c.kv_heads = 5;
  const std::string msg = error_of(c);
  EXPECT_NE(msg.find("not divisible"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1, 2, 4, 8, 16, 32"), std::string::npos) << msg;
}

TEST(ModelConfig, ZeroNegativeAndAbsurdSizesAreRejected) {
  for (int64_t ModelConfig::*field :
       {&ModelConfig::layers, &ModelConfig::heads, &ModelConfig::head_dim, &ModelConfig::hidden}) {
    for (int64_t bad : {int64_t{0}, int64_t{-3}, int64_t{1} << 40}) {
      ModelConfig c = preset("llama-2-7b");
      c.*field = bad;
      if (field == &ModelConfig::layers && bad > 0) c.layer_types.resize(1);
      EXPECT_FALSE(error_of(c).empty()) << bad;
    }
  }
  ModelConfig c = preset("llama-2-7b");
  c.kv_heads = 64;
  EXPECT_NE(error_of(c).find("exceeds"), std::string::npos);
}

TEST(ModelConfig, ParameterCountsMatchPublishedModels) {
  EXPECT_EQ(preset("llama-2-7b").parameter_count(), 6'738'415'616);
  EXPECT_EQ(preset("llama-3.2-1b").parameter_count(), 1'235'814'400);
  EXPECT_EQ(preset("qwen3-4b").parameter_count(), 4'022'468'096);
  EXPECT_EQ(preset("qwen2.5-0.5b").parameter_count(), 494'032'768);
  EXPECT_EQ(preset("smollm2-135m").parameter_count(), 134'515'008);
  EXPECT_EQ(preset("tinyllama-1.1b").parameter_count(), 1'100'048'384);
}

TEST(ModelConfig, RegroupingShrinksOnlyKeyValueProjections) {
  const ModelConfig mha = preset("llama-2-7b");
  const ModelConfig gqa8 = mha.regrouped(8);
  EXPECT_EQ(gqa8.kv_heads, 8);
  EXPECT_EQ(gqa8.n_rep(), 4);
  // k_proj and v_proj lose (32 - 8) heads of 128 rows of 4096 in each of 32 layers.
  EXPECT_EQ(mha.parameter_count() - gqa8.parameter_count(), int64_t{2} * 32 * 24 * 128 * 4096);
  EXPECT_TRUE(mha.regrouped(1).is_mqa());
  EXPECT_TRUE(mha.regrouped(32).is_mha());
}

TEST(ModelConfig, RegroupToANonDivisorListsTheValidCounts) {
  for (int64_t bad : {int64_t{0}, int64_t{3}, int64_t{5}, int64_t{33}, int64_t{-8}}) {
    try {
      preset("llama-2-7b").regrouped(bad);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("1, 2, 4, 8, 16, 32"), std::string::npos) << e.what();
    }
  }
}

TEST(ModelConfig, ValidKvHeadCountsAreTheDivisorsFromMhaToMqa) {
  EXPECT_EQ(valid_kv_head_counts(32), (std::vector<int64_t>{32, 16, 8, 4, 2, 1}));
  EXPECT_EQ(valid_kv_head_counts(9), (std::vector<int64_t>{9, 3, 1}));
  EXPECT_EQ(valid_kv_head_counts(14), (std::vector<int64_t>{14, 7, 2, 1}));
}

TEST(ModelConfig, ParameterCountNeedsTheMlpAndVocabulary) {
  ModelConfig c = preset("llama-2-7b");
  c.intermediate = 0;
  EXPECT_TRUE(error_of(c).empty());  // fine for KV planning
  EXPECT_THROW(c.parameter_count(), Error);
}

}  // namespace
}  // namespace gqa

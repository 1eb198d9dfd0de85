#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/presets.h"
#include "core/error.h"

namespace gqa {
namespace {

// The FP16 KV bytes/token column of shared/reference/model-configs.md, row by row, and five
// large models from their config.json files (2 * L * h_kv * d_h * 2, by hand).
const std::map<std::string, int64_t> kReferenceBytesPerToken = {
    {"llama-2-7b", 524288},         {"llama-2-13b", 819200},    {"llama-2-70b", 327680},
    {"llama-3.1-8b", 131072},       {"llama-3.2-1b", 32768},    {"llama-3.2-3b", 114688},
    {"mistral-7b-v0.1", 131072},    {"phi-4-mini", 131072},     {"qwen3-4b", 147456},
    {"qwen2.5-0.5b", 12288},        {"smollm3-3b", 73728},      {"smollm2-135m", 23040},
    {"smollm2-360m", 40960},        {"gemma-3-4b", 139264},     {"tinyllama-1.1b", 22528},
    {"stories15m", 6912},           {"stories42m", 16384},      {"stories110m", 36864},
    {"llama-3.1-70b", 327680},      {"llama-3.1-405b", 516096}, {"qwen3-32b", 262144},
    {"mistral-large-2407", 360448}, {"gemma-3-27b", 507904},
};

TEST(Presets, EveryReferenceRowHasAPresetWithItsBytesPerToken) {
  EXPECT_EQ(presets().size(), kReferenceBytesPerToken.size());
  for (const auto& [key, bytes] : kReferenceBytesPerToken) {
    const Preset* p = find_preset(key);
    ASSERT_NE(p, nullptr) << key;
    EXPECT_EQ(p->config.kv_bytes_per_token(KvDtype::kF16), bytes) << key;
    // And the formula itself: 2 * L * h_kv * d_h * 2 bytes.
    EXPECT_EQ(2 * p->config.layers * p->config.kv_heads * p->config.head_dim * 2, bytes) << key;
  }
}

TEST(Presets, AllPresetsValidate) {
  for (const auto& p : presets()) {
    EXPECT_NO_THROW(p.config.validate()) << p.key;
    EXPECT_EQ(p.config.name, p.display);
  }
}

TEST(Presets, LookupIgnoresCaseAndPunctuation) {
  EXPECT_EQ(find_preset("Llama-2-7B"), find_preset("llama-2-7b"));
  EXPECT_EQ(find_preset("llama2-7b"), find_preset("llama-2-7b"));
  EXPECT_EQ(find_preset("Qwen3-4B")->config.head_dim, 128);
  EXPECT_EQ(find_preset("gpt-4"), nullptr);
}

TEST(Presets, UnknownNameListsThePresets) {
  try {
    fail_unknown_preset("gpt-4");
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("gpt-4"), std::string::npos);
    EXPECT_NE(msg.find("llama-2-7b"), std::string::npos);
  }
}

}  // namespace
}  // namespace gqa

#include <gtest/gtest.h>

#include <sentencepiece_trainer.h>

#include <cmath>
#include <fstream>
#include <map>
#include <vector>

#include "config/model_config.h"
#include "core/error.h"
#include "core/text_file.h"
#include "model/sampler.h"
#include "temp_dir.h"
#include "tokenizer/sentencepiece_check.h"
#include "tokenizer/tokenizer.h"

namespace gqa::model {
namespace {

using tok::parse_token_list;
using tok::Tokenizer;
namespace fs = std::filesystem;

TEST(Sampler, GreedyAndTopKOneAreArgmax) {
  const std::vector<float> logits{0.1f, 3.0f, -1.0f, 2.9f};
  Sampler greedy({0.0, 0, 1.0, 1});
  EXPECT_EQ(greedy.sample(logits), 1);
  Sampler k1({1.5, 1, 1.0, 1});
  EXPECT_EQ(k1.sample(logits), 1);
  Sampler tiny_p({1.0, 0, 1e-6, 1});
  EXPECT_EQ(tiny_p.sample(logits), 1);
}

TEST(Sampler, SampleFrequenciesFollowTheSoftmaxAndTopKLimitsTheSupport) {
  const std::vector<float> logits{0.0f, 1.0f, 2.0f, -0.5f};
  Sampler s({1.0, 0, 1.0, 42});
  std::map<int32_t, int> counts;
  const int n = 40000;
  for (int i = 0; i < n; ++i) counts[s.sample(logits)]++;
  double z = 0;
  for (float l : logits) z += std::exp(l);
  for (int32_t t = 0; t < 4; ++t)
    EXPECT_NEAR(counts[t] / double(n), std::exp(logits[t]) / z, 0.01) << t;
  Sampler k2({1.0, 2, 1.0, 7});
  for (int i = 0; i < 2000; ++i) {
    const int32_t t = k2.sample(logits);
    EXPECT_TRUE(t == 1 || t == 2) << t;
  }
}

TEST(Sampler, SameSeedSameTokensAndBadOptionsAreErrors) {
  const std::vector<float> logits{0.3f, 0.2f, 0.1f, 0.0f, -0.1f};
  Sampler a({0.8, 0, 0.9, 5}), b({0.8, 0, 0.9, 5});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.sample(logits), b.sample(logits));
  EXPECT_THROW(Sampler({-1.0, 0, 1.0, 0}), Error);
  EXPECT_THROW(Sampler({1.0, -3, 1.0, 0}), Error);
  EXPECT_THROW(Sampler({1.0, 0, 0.0, 0}), Error);
  EXPECT_THROW(Sampler({1.0, 0, 1.5, 0}), Error);
}

// Trains a small SentencePiece BPE model, as a checkpoint would carry it.
void train_tokenizer(const std::filesystem::path& dir) {
  std::ofstream corpus(dir / "corpus.txt");
  for (int i = 0; i < 200; ++i)
    corpus << "the quick brown fox jumps over the lazy dog " << i << "\n"
           << "grouped query attention shares keys and values across heads\n";
  corpus.close();
  const auto status = sentencepiece::SentencePieceTrainer::Train(
      "--input=" + (dir / "corpus.txt").string() +
      " --model_prefix=" + (dir / "tokenizer").string() +
      " --vocab_size=400 --model_type=bpe --character_coverage=1.0 --unk_id=0 --bos_id=1 --eos_id=2"
      " --pad_id=-1 --byte_fallback=true --minloglevel=2");
  ASSERT_TRUE(status.ok()) << status.ToString();
}

TEST(Tokenizer, SentencePieceRoundTripWithBosFromTheConfig) {
  test::TempDir dir;
  train_tokenizer(dir.path());
  ModelConfig c;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  const Tokenizer t(dir.path(), c);
  const std::string text = "the lazy fox shares heads";
  const auto ids = t.encode(text);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(t.decode(ids), text);
  EXPECT_TRUE(t.is_eos(2));
  EXPECT_FALSE(t.is_eos(1));
  std::ofstream(dir / "tokenizer_config.json") << R"({"add_bos_token": false})";
  EXPECT_NE(Tokenizer(dir.path(), c).encode(text)[0], 1);
}

TEST(Tokenizer, MissingOrJsonOnlyTokenizersAreClearErrors) {
  test::TempDir dir;
  try {
    Tokenizer(dir.path(), ModelConfig{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer.model"), std::string::npos);
  }
  std::ofstream(dir / "tokenizer.json") << "{}";
  try {
    Tokenizer(dir.path(), ModelConfig{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json: no \"model\" object"), std::string::npos)
        << e.what();
  }
  std::ofstream(dir / "tokenizer.model") << "garbage";
  EXPECT_THROW(Tokenizer(dir.path(), ModelConfig{}), Error);
}

TEST(Tokenizer, TokenListsParseAndBadItemsAreNamed) {
  EXPECT_EQ(parse_token_list("1,450,4996"), (std::vector<int32_t>{1, 450, 4996}));
  EXPECT_THROW(parse_token_list("1,x,3"), Error);
  EXPECT_THROW(parse_token_list(""), Error);
  EXPECT_THROW(parse_token_list("1,,2"), Error);
}

// The check in front of libsentencepiece accepts real models: the demo's (NFKC trie) and the
// fuzz seeds (identity normalization, and a unigram model with its trie).
TEST(SentencePieceCheck, RealModelsPassAndTruncationsAreRefused) {
  const fs::path models = fs::path(GQA_TEST_DATA) / "..";
  for (const fs::path& p :
       {models / ".." / "models" / "kjv-mha" / "tokenizer.model",
        models / "fuzz" / "corpus" / "fuzz_tokenizer_model" / "bpe_identity.model",
        models / "fuzz" / "corpus" / "fuzz_tokenizer_model" / "unigram_nfkc.model"}) {
    const std::string bytes = read_text_file(p, kMaxTokenizerFileBytes);
    EXPECT_NO_THROW(tok::check_sentencepiece_model(bytes, p.string())) << p;
    for (size_t cut : {size_t{1}, bytes.size() / 3, bytes.size() - 1})
      EXPECT_THROW(tok::check_sentencepiece_model(bytes.substr(0, cut), p.string()), Error)
          << p << " cut at " << cut;
  }
  EXPECT_NO_THROW(tok::check_precompiled_charsmap("", "empty"));
  EXPECT_THROW(tok::check_precompiled_charsmap(std::string("\x08\0\0\0", 4), "short"), Error);
}

}  // namespace
}  // namespace gqa::model

// The reproduce pieces that need no training: the KJV split by book, the judging of the paper's
// findings on given numbers, the plots and results.json.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "reproduce/experiment.h"
#include "reproduce/kjv_corpus.h"
#include "reproduce/plots.h"
#include "run_command.h"
#include "temp_dir.h"

namespace gqa::reproduce {
namespace {

using convert::PoolMethod;

TEST(KjvCorpus, SplitsByBookAndDropsReferences) {
  test::TempDir tmp;
  std::string text;
  // 12 books of 2 verses; book index 5 is held out ("1Sm" checks a leading digit).
  const char* books[] = {"Ge", "Exo", "Lev", "Num", "Deu", "1Sm", "Ruth", "a", "b", "c", "d", "e"};
  for (const char* b : books)
    for (int v = 1; v <= 2; ++v) text += std::string(b) + "1:" + std::to_string(v) + " Verse.\n";
  const CorpusSplit s = split_kjv(text, tmp.path());
  EXPECT_EQ(s.heldout_books, std::vector<std::string>{"1Sm"});
  EXPECT_EQ(s.heldout_verses, 2);
  EXPECT_EQ(s.train_verses, 22);
  EXPECT_EQ(test::slurp(s.heldout), "Verse.\nVerse.\n");
  EXPECT_THROW(split_kjv("no verses\n", tmp.path()), Error);
}

Results numbers(double mean2_a1, double first2_a1, double random2_a1, double mqa0, double mqa1,
                double mqa2) {
  Results r;
  r.alphas = {0.05, 0.1};
  auto add = [&](const char* name, PoolMethod m, int64_t kv, std::map<double, double> ppl) {
    VariantResult v;
    v.variant = {name, m, kv, {}};
    v.ppl = std::move(ppl);
    v.kv_bytes_per_token = 768 * kv;
    v.compression = 8.0 / static_cast<double>(kv);
    r.variants.push_back(v);
  };
  add("mean-8", PoolMethod::kMean, 8, {{0, 40}, {0.05, 40}, {0.1, 40}});
  add("mean-4", PoolMethod::kMean, 4, {{0, 42}, {0.05, 40.5}, {0.1, 40.2}});
  add("mean-2", PoolMethod::kMean, 2, {{0, 44}, {0.05, mean2_a1}, {0.1, mean2_a1 - 0.2}});
  add("mean-1", PoolMethod::kMean, 1, {{0, mqa0}, {0.05, mqa1}, {0.1, mqa2}});
  add("first-2", PoolMethod::kFirst, 2, {{0, 46}, {0.05, first2_a1}});
  add("random-2", PoolMethod::kRandom, 2, {{0, 300}, {0.05, random2_a1}});
  add("svd+similar-2", PoolMethod::kSvd, 2, {{0, 41}, {0.05, 40.5}});
  r.variants.back().variant.grouping = convert::Grouping::kSimilar;
  r.variants.back().variant.calibrated = true;
  return r;
}

TEST(Judge, AgreesWhenTheNumbersShowThePapersFindings) {
  const auto f = judge(numbers(41, 42, 60, 70, 45, 44));
  ASSERT_EQ(f.size(), 3u);
  for (const auto& x : f) EXPECT_TRUE(x.agrees) << x.claim << ": " << x.detail;
}

TEST(Judge, SaysSoWhenTheyDoNot) {
  // first beats mean; MQA loses little as converted; MQA gains more from 5% to 10%.
  const auto f = judge(numbers(43, 42, 60, 45, 44.5, 42));
  EXPECT_FALSE(f[0].agrees);
  EXPECT_FALSE(f[1].agrees);
  EXPECT_FALSE(f[2].agrees);
  EXPECT_NE(f[0].detail.find("first 42.00"), std::string::npos) << f[0].detail;
}

TEST(Plots, OneSeriesPerMethodAndAlphaAndValidJson) {
  const Results r = numbers(41, 42, 60, 70, 45, 44);
  const std::string kv = ppl_vs_kv_heads_svg(r);
  EXPECT_EQ(kv.rfind("<svg", 0), 0u);
  EXPECT_NE(kv.find("mean, alpha 0.05"), std::string::npos);
  EXPECT_NE(kv.find("random, alpha 0"), std::string::npos);
  EXPECT_EQ(ppl_vs_alpha_svg(r).find("first"), std::string::npos);  // mean pooling only
  const auto j = nlohmann::json::parse(results_json(r));
  EXPECT_EQ(j["variants"][2]["heldout_ppl_by_alpha"]["0.05"], 41);
  EXPECT_EQ(j["variants"][5]["method"], "random");
  EXPECT_NE(kv.find("svd+similar, alpha 0"), std::string::npos);
  EXPECT_EQ(j["variants"][6]["method"], "svd");
  EXPECT_EQ(j["variants"][6]["grouping"], "similar");
  EXPECT_EQ(j["variants"][6]["calibrated"], true);
}

}  // namespace
}  // namespace gqa::reproduce

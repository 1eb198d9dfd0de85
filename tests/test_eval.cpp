#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "convert/converter.h"
#include "core/error.h"
#include "eval/logprob_file.h"
#include "eval/perplexity.h"
#include "golden_file.h"
#include "model/model.h"
#include "temp_dir.h"

namespace gqa::eval {
namespace {

namespace fs = std::filesystem;
const fs::path kGolden = fs::path(GQA_TEST_DATA) / "golden";

TEST(Perplexity, MatchesTheReferenceLogitsOverOneWindow) {
  const fs::path dir = kGolden / "llama_gqa_f32";
  const auto g = test::read_golden(dir / "logits.golden");
  const model::Model m(dir);
  const PplResult r = perplexity(m, g.tokens, 64, {});
  double nll = 0;
  for (size_t t = 0; t + 1 < g.tokens.size(); ++t) {
    std::vector<float> row(g.row(t), g.row(t) + g.vocab);
    log_softmax(row);
    nll -= row[static_cast<size_t>(g.tokens[t + 1])];
  }
  EXPECT_EQ(r.scored, static_cast<int64_t>(g.tokens.size()) - 1);
  EXPECT_EQ(r.windows, 1);
  EXPECT_NEAR(r.ppl(), std::exp(nll / r.scored), 1e-4 * r.ppl());
}

TEST(Perplexity, WindowsScoreAllButTheirFirstToken) {
  const fs::path dir = kGolden / "llama_gqa_f32";
  const auto g = test::read_golden(dir / "logits.golden");  // 14 tokens
  const model::Model m(dir);
  EXPECT_EQ(perplexity(m, g.tokens, 5, {}).scored, 4 + 4 + 3);  // windows of 5, 5, 4
  EXPECT_EQ(perplexity(m, g.tokens, 5, {}).windows, 3);
  EXPECT_THROW(perplexity(m, g.tokens, 1, {}), Error);
}

TEST(Kld, ARunAgainstItselfIsZeroAndAConvertedModelDiffers) {
  test::TempDir tmp;
  const fs::path dir = kGolden / "llama_mha_f32";
  const auto g = test::read_golden(dir / "logits.golden");
  const model::Model base(dir);
  LogprobWriter w(tmp / "base.logp", base.config().vocab);
  const PplResult rb = perplexity(base, g.tokens, 8, {}, [&](auto lp, int32_t t) { w.add(lp, t); });
  w.finish();
  KlComparer same(tmp / "base.logp", base.config().vocab);
  perplexity(base, g.tokens, 8, {}, [&](auto lp, int32_t t) { same.add(lp, t); });
  const KlResult ks = same.finish();
  EXPECT_NEAR(ks.kl_mean(), 0.0, 1e-9);
  EXPECT_EQ(ks.top1_agree, ks.rows);
  EXPECT_NEAR(std::exp(ks.base_nll_sum / ks.rows), rb.ppl(), 1e-6 * rb.ppl());

  convert::ConvertOptions o;
  o.kv_heads = 1;
  convert::convert_checkpoint(dir, tmp / "mqa", o);
  const model::Model mqa(tmp / "mqa");
  KlComparer other(tmp / "base.logp", mqa.config().vocab);
  perplexity(mqa, g.tokens, 8, {}, [&](auto lp, int32_t t) { other.add(lp, t); });
  EXPECT_GT(other.finish().kl_mean(), 1e-4);
}

TEST(Kld, MismatchedOrTruncatedBaselinesAreErrors) {
  test::TempDir tmp;
  const fs::path dir = kGolden / "llama_mha_f32";
  const auto g = test::read_golden(dir / "logits.golden");
  const model::Model m(dir);
  {
    LogprobWriter w(tmp / "b.logp", m.config().vocab);
    perplexity(m, g.tokens, 8, {}, [&](auto lp, int32_t t) { w.add(lp, t); });
    w.finish();
  }
  EXPECT_THROW(KlComparer(tmp / "b.logp", m.config().vocab + 1), Error);
  KlComparer shorter(tmp / "b.logp", m.config().vocab);
  std::vector<int32_t> other = g.tokens;
  other[3] = (other[3] + 1) % 97;
  EXPECT_THROW(perplexity(m, other, 8, {}, [&](auto lp, int32_t t) { shorter.add(lp, t); }), Error);
  fs::resize_file(tmp / "b.logp", fs::file_size(tmp / "b.logp") - 4);
  EXPECT_THROW(KlComparer(tmp / "b.logp", m.config().vocab), Error);
  {  // an abandoned writer leaves no file
    LogprobWriter w(tmp / "never.logp", 5);
  }
  EXPECT_FALSE(fs::exists(tmp / "never.logp"));
}

}  // namespace
}  // namespace gqa::eval

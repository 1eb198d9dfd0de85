// The native Llama forward against an independent PyTorch implementation (tests/data/
// make_golden.py): prefill logits and every decode step's logits, for MHA, GQA and MQA, with and
// without biases and q/k norm, Llama-3 RoPE scaling, a sliding window, f32 and bf16 weights.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "convert/converter.h"
#include "core/error.h"
#include "golden_file.h"
#include "kv/kv_layout.h"
#include "model/model.h"
#include "model/session.h"
#include "ops/matvec_avx512bf16.h"
#include "plan/capacity.h"
#include "temp_dir.h"

namespace gqa::model {
namespace {

namespace fs = std::filesystem;
const fs::path kGolden = fs::path(GQA_TEST_DATA) / "golden";

// Relative error bound: max |ours - reference| / max |reference| per row of logits. The
// reference computes in float64 on the stored weights (bf16 cases included); ours in f32 where
// the products are exact: f32 weights, and bf16 weights widened to f32.
constexpr double kTolerance = 1e-4;
// bf16 weights on a CPU with AVX512-BF16 multiply activations rounded to bf16 (2^-9 relative per
// input of every projection, as llama.cpp and PyTorch's bf16 matmuls do): measured at most
// 1.2e-2 over the five bf16 cases (2026-12-02), so 3e-2. The exact path keeps 1e-4 for them: the
// ctest golden_exact_avx512f runs every case with GQA_ISA=avx512f (no BF16 products), and
// `make portable` with avx2 and scalar.
constexpr double kBf16ProductsTolerance = 3e-2;

double tolerance_for(const Model& m) {
  return m.layers().front().wq.dtype == DType::kBF16 && ops::have_matvec_avx512bf16()
             ? kBf16ProductsTolerance
             : kTolerance;
}

void expect_matches_golden(const fs::path& dir, const test::Golden& g,
                           const CacheOptions& cache = {}) {
  const Model m(dir);
  Session s(m, 64, cache);
  const double tolerance = tolerance_for(m);
  const size_t n = g.tokens.size(), prefill = n / 2;
  std::vector<float> logits;
  s.forward(std::span(g.tokens.data(), prefill), logits, true);
  for (size_t t = 0; t < prefill; ++t)
    EXPECT_LE(test::relative_error(logits.data() + t * g.vocab, g.row(t), g.vocab), tolerance)
        << dir.filename() << " prefill position " << t;
  for (size_t t = prefill; t < n; ++t) {
    s.forward(std::span(g.tokens.data() + t, 1), logits);
    EXPECT_LE(test::relative_error(logits.data(), g.row(t), g.vocab), tolerance)
        << dir.filename() << " decode step at position " << t;
  }
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, PrefillAndEveryDecodeStepMatchPyTorch) {
  const fs::path dir = kGolden / GetParam();
  expect_matches_golden(dir, test::read_golden(dir / "logits.golden"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Golden,
    ::testing::Values("llama_mha_f32", "llama_gqa_f32", "llama_mqa_f32", "llama_mha_bf16",
                      "llama3_rope_gqa_f32", "qwen2_bias_gqa_f32", "qwen3_qknorm_gqa_f32",
                      "qwen3_qknorm_gqa_bf16", "mistral_window_gqa_f32", "phi3_longrope_gqa_f32",
                      "phi3_window_mqa_bf16", "phi3_mha_f32", "smollm3_nope_gqa_f32",
                      "smollm3_nope_mha_bf16", "smollm3_nope_mqa_f32",
                      "gemma3_local_global_gqa_f32", "gemma3_mqa_bf16", "gemma3_mha_f32"));

TEST(ModelGolden, ConvertedCheckpointsMatchTheReferenceOnPooledWeights) {
  test::TempDir tmp;
  const fs::path src = kGolden / "llama_mha_f32";
  convert::ConvertOptions same;
  same.kv_heads = 4;
  convert::convert_checkpoint(src, tmp / "g4", same);
  // G = H: identical logits to the source, bit for bit.
  {
    const Model a(src), b(tmp / "g4");
    Session sa(a, 32), sb(b, 32);
    const auto g = test::read_golden(src / "logits.golden");
    std::vector<float> la, lb;
    sa.forward(g.tokens, la, true);
    sb.forward(g.tokens, lb, true);
    EXPECT_EQ(la, lb);
  }
  convert::ConvertOptions two;
  two.kv_heads = 2;
  convert::convert_checkpoint(src, tmp / "g2", two);
  expect_matches_golden(tmp / "g2", test::read_golden(src / "converted_g2.golden"));
}

// Every family converts: Phi-3's fused qkv_proj (only its K and V rows pooled), SmolLM3, Gemma 3.
TEST(ModelGolden, ConvertedPhi3SmolLM3AndGemma3MatchTheReferenceOnPooledWeights) {
  test::TempDir tmp;
  for (const char* name :
       {"phi3_longrope_gqa_f32", "smollm3_nope_gqa_f32", "gemma3_local_global_gqa_f32"}) {
    convert::ConvertOptions one;
    one.kv_heads = 1;
    convert::convert_checkpoint(kGolden / name, tmp / name, one);
    expect_matches_golden(tmp / name, test::read_golden(kGolden / name / "converted_g1.golden"));
  }
}

// Blocks of two tokens: the sliding layers (window 4 to 6) give back blocks during the run, and
// the logits stay those of the reference.
TEST(ModelGolden, SlidingLayersGivingBackBlocksChangeNoLogits) {
  for (const char* name : {"gemma3_local_global_gqa_f32", "mistral_window_gqa_f32",
                           "phi3_window_mqa_bf16", "gemma3_mqa_bf16"}) {
    const fs::path dir = kGolden / name;
    expect_matches_golden(dir, test::read_golden(dir / "logits.golden"),
                          {.kv_dtype = KvDtype::kF32, .block_size = 2});
    const Model m(dir);
    Session s(m, 64, {.kv_dtype = KvDtype::kF32, .block_size = 2});
    const auto g = test::read_golden(dir / "logits.golden");
    std::vector<float> logits;
    s.forward(g.tokens, logits);
    const kv::KvLayout layout = kv::KvLayout::for_model(m.config(), KvDtype::kF32, 2);
    EXPECT_LT(s.held_blocks(), layout.blocks_for_tokens(static_cast<int64_t>(g.tokens.size())))
        << name;
  }
}

// The planner's sessions for a memory budget, on a model with local and global layers, decoding
// to the full context together in batched steps (as the server runs them, every sequence's
// blocks taken before any are given back); one session more runs out of blocks.
TEST(ModelGolden, APoolHoldsThePlannersSessionsOfAModelWithSlidingLayers) {
  const Model m(kGolden / "gemma3_local_global_gqa_f32");
  const int64_t ctx = 40, bs = 2, memory = 64 << 10;
  const plan::Capacity cap =
      plan::capacity(m.config(), KvDtype::kF16, ctx, bs, plan::CapacityRequest::pool_only(memory));
  const kv::KvLayout layout = kv::KvLayout::for_model(m.config(), KvDtype::kF16, bs);
  kv::BlockPool pool(layout, kv::BlockPool::blocks_for_memory(layout, memory));
  ASSERT_GT(cap.sessions, 1);
  auto decode_together = [&](int64_t n) {
    std::vector<std::unique_ptr<Session>> sessions;
    for (int64_t i = 0; i < n; ++i) sessions.push_back(std::make_unique<Session>(m, pool, ctx));
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    std::vector<float> logits;
    Activations act;
    for (int32_t t = 0; t < ctx; ++t) {
      std::vector<Session::Segment> batch;
      for (int64_t i = 0; i < n; ++i) {
        tokens[static_cast<size_t>(i)] = (t * 7 + static_cast<int32_t>(i)) % 90;
        batch.push_back({sessions[static_cast<size_t>(i)].get(),
                         std::span(&tokens[static_cast<size_t>(i)], 1)});
      }
      Session::forward_batch(batch, logits, act);
    }
  };
  EXPECT_NO_THROW(decode_together(cap.sessions));
  EXPECT_EQ(pool.free_blocks(), pool.total_blocks());
  EXPECT_THROW(decode_together(cap.sessions + 1), Error);
}

TEST(ModelGolden, DecodingWithTheCacheEqualsRecomputingWithoutIt) {
  const fs::path dir = kGolden / "qwen3_qknorm_gqa_f32";
  const Model m(dir);
  const auto g = test::read_golden(dir / "logits.golden");
  Session cached(m, 64);
  std::vector<float> step, full;
  for (size_t t = 0; t < g.tokens.size(); ++t) {
    cached.forward(std::span(g.tokens.data() + t, 1), step);
    Session fresh(m, 64);  // the whole prefix again, no cache reused
    fresh.forward(std::span(g.tokens.data(), t + 1), full);
    EXPECT_LE(test::relative_error(step.data(), full.data(), g.vocab), 1e-5) << t;
  }
}

TEST(ModelGolden, BadTokensAndAFullCacheAreErrorsThatLeaveTheSession) {
  const Model m(kGolden / "llama_gqa_f32");
  Session s(m, 4);
  std::vector<float> logits;
  const std::vector<int32_t> bad{1, 97};
  EXPECT_THROW(s.forward(bad, logits), Error);
  EXPECT_EQ(s.position(), 0);
  const std::vector<int32_t> five{1, 2, 3, 4, 5};
  EXPECT_THROW(s.forward(five, logits), Error);
  EXPECT_EQ(s.position(), 0);
  s.forward(std::span(five.data(), 4), logits);
  EXPECT_EQ(s.position(), 4);
}

}  // namespace
}  // namespace gqa::model

namespace gqa::model {
namespace {

// Logits with each KV dtype against f32 KV, on golden models of four families (Qwen3; Gemma 3's
// local and global layers; Phi-3's partial rotary and longrope; SmolLM3 with a layer without
// RoPE): max |diff| / max |f32| per row. Measured maxima over the four (2026-12-01): f16 0.0011,
// bf16 0.0080, fp8-e4m3 0.151, fp8-e5m2 0.278, int8 0.060 (SmolLM3 and Phi-3 the largest, Gemma
// 3 the smallest). The bounds are those measurements with headroom.
class ModelKvDtypes : public ::testing::TestWithParam<const char*> {};

TEST_P(ModelKvDtypes, EveryCacheDtypeStaysNearF32AndBlockSizesAgree) {
  const fs::path dir = kGolden / GetParam();
  const Model m(dir);
  const auto g = test::read_golden(dir / "logits.golden");
  std::vector<float> ref;
  Session exact(m, 64, {KvDtype::kF32, 16});
  exact.forward(g.tokens, ref, true);
  const std::pair<KvDtype, double> bounds[] = {{KvDtype::kF16, 2e-3},
                                               {KvDtype::kBF16, 1.5e-2},
                                               {KvDtype::kF8E4M3, 2e-1},
                                               {KvDtype::kF8E5M2, 3.5e-1},
                                               {KvDtype::kInt8, 8e-2}};
  for (const auto& [t, bound] : bounds) {
    Session s(m, 64, {t, 16});
    std::vector<float> got;
    s.forward(g.tokens, got, true);
    for (size_t row = 0; row < g.tokens.size(); ++row)
      EXPECT_LE(
          test::relative_error(got.data() + row * g.vocab, ref.data() + row * g.vocab, g.vocab),
          bound)
          << kv_dtype_name(t) << " row " << row;
  }
  for (int64_t bs : {1, 5, 64}) {
    Session s(m, 64, {KvDtype::kF32, bs});
    std::vector<float> got;
    s.forward(std::span(g.tokens.data(), 9), got, true);
    for (size_t t = 9; t < g.tokens.size(); ++t) s.forward(std::span(g.tokens.data() + t, 1), got);
    EXPECT_LE(
        test::relative_error(got.data(), ref.data() + (g.tokens.size() - 1) * g.vocab, g.vocab),
        1e-5)
        << bs;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ModelKvDtypes,
                         ::testing::Values("qwen3_qknorm_gqa_f32", "gemma3_local_global_gqa_f32",
                                           "phi3_longrope_gqa_f32", "smollm3_nope_gqa_f32"));

TEST(ModelKvCache, ASharedPoolRunsOutCleanlyAndGivesBlocksBack) {
  const Model m(kGolden / "llama_gqa_f32");
  kv::BlockPool pool(kv::KvLayout::for_model(m.config(), KvDtype::kF16, 4), 3);
  std::vector<float> logits;
  const std::vector<int32_t> tokens{1, 2, 3, 4, 5, 6, 7, 8, 9};
  {
    Session a(m, pool, 64), b(m, pool, 64);
    a.forward(std::span(tokens.data(), 8), logits);                       // 2 blocks
    EXPECT_THROW(b.forward(std::span(tokens.data(), 5), logits), Error);  // needs 2, 1 free
    EXPECT_EQ(b.position(), 0);
    b.forward(std::span(tokens.data(), 4), logits);
    EXPECT_EQ(pool.free_blocks(), 0);
  }
  EXPECT_EQ(pool.free_blocks(), 3);
}

}  // namespace
}  // namespace gqa::model

namespace gqa::model {
namespace {

// Continuous batching: one step over several sequences at different depths (one matmul per
// projection for all of them) equals running each sequence alone.
void expect_batch_equals_alone(const fs::path& dir) {
  const Model m(dir);
  const auto g = test::read_golden(dir / "logits.golden");
  kv::BlockPool pool(kv::KvLayout::for_model(m.config(), KvDtype::kF16, 4), 64);
  Session a(m, pool, 64), b(m, pool, 64), c(m, pool, 64);
  Session a1(m, pool, 64), b1(m, pool, 64), c1(m, pool, 64);
  std::vector<float> logits, alone;
  Activations act;
  const std::span<const int32_t> t(g.tokens);
  // Different depths: prefill 3, 7 and 1 tokens, batched and alone.
  Session::Segment pre[] = {{&a, t.subspan(0, 3)}, {&b, t.subspan(2, 7)}, {&c, t.subspan(5, 1)}};
  Session::forward_batch(pre, logits, act);
  a1.forward(t.subspan(0, 3), alone);
  b1.forward(t.subspan(2, 7), alone);
  c1.forward(t.subspan(5, 1), alone);
  for (int step = 0; step < 4; ++step) {
    const int32_t na = g.tokens[3 + step], nb = g.tokens[9 + step % 3], nc = g.tokens[step];
    Session::Segment dec[] = {
        {&a, std::span(&na, 1)}, {&b, std::span(&nb, 1)}, {&c, std::span(&nc, 1)}};
    Session::forward_batch(dec, logits, act);
    ASSERT_EQ(logits.size(), 3u * g.vocab);
    Session* singles[] = {&a1, &b1, &c1};
    const int32_t* next[] = {&na, &nb, &nc};
    for (int i = 0; i < 3; ++i) {
      singles[i]->forward(std::span(next[i], 1), alone);
      // sgemm over the batch and matvec alone sum in different orders: f32 rounding, within the
      // golden bound.
      EXPECT_LE(test::relative_error(logits.data() + i * g.vocab, alone.data(), g.vocab),
                kTolerance)
          << dir.filename() << " sequence " << i << " step " << step;
    }
  }
  EXPECT_EQ(a.position(), 7);
  EXPECT_EQ(b.position(), 11);
  EXPECT_EQ(c.position(), 5);
}

// Phi-3's longrope: sequence b passes the switch (position 9) while a and c stay below it, so
// each sequence of one batch rotates with its own table. Gemma 3: local and global layers.
TEST(ModelBatch, ABatchedStepEqualsEachSequenceAlone) {
  for (const char* name :
       {"qwen2_bias_gqa_f32", "phi3_longrope_gqa_f32", "gemma3_local_global_gqa_f32"})
    expect_batch_equals_alone(kGolden / name);
}

TEST(ModelBatch, ABatchThatDoesNotFitChangesNoSession) {
  const Model m(kGolden / "llama_gqa_f32");
  kv::BlockPool pool(kv::KvLayout::for_model(m.config(), KvDtype::kF16, 4), 3);
  Session a(m, pool, 64), b(m, pool, 64);
  std::vector<float> logits;
  Activations act;
  const std::vector<int32_t> t{1, 2, 3, 4, 5, 6, 7, 8};
  Session::Segment seg[] = {{&a, std::span(t.data(), 4)},
                            {&b, std::span(t.data(), 8)}};  // 1 + 2 blocks
  Session::forward_batch(seg, logits, act);
  EXPECT_EQ(pool.free_blocks(), 0);
  Session::Segment more[] = {{&a, std::span(t.data(), 1)}, {&b, std::span(t.data(), 1)}};
  EXPECT_THROW(Session::forward_batch(more, logits, act), Error);  // both need a new block
  EXPECT_EQ(a.position(), 4);
  EXPECT_EQ(b.position(), 8);
  EXPECT_EQ(pool.free_blocks(), 0);
  Session::Segment twice[] = {{&a, std::span(t.data(), 1)}, {&a, std::span(t.data(), 1)}};
  EXPECT_THROW(Session::forward_batch(twice, logits, act), Error);
}

}  // namespace
}  // namespace gqa::model

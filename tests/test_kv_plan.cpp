#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "config/presets.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "plan/capacity.h"
#include "plan/kv_footprint.h"
#include "plan/kv_report.h"
#include "plan/kv_report_json.h"
#include "plan/weights_format.h"

namespace gqa::plan {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kGiB = int64_t{1} << 30;

KvRequest request_for(const char* preset) {
  KvRequest r;
  r.model = find_preset(preset)->config;
  return r;
}

TEST(KvPlan, Llama2SevenBLessonFiguresMhaAndGqa8) {
  KvRequest r = request_for("llama-2-7b");
  KvReport rep = make_report(r);
  EXPECT_EQ(rep.current.footprint.bytes_per_token, 524288);  // 0.50 MiB
  EXPECT_EQ(rep.current.footprint.bytes_at_ctx, 2048 * kMiB);
  r.kv_heads = 8;
  rep = make_report(r);
  EXPECT_EQ(rep.current.footprint.bytes_per_token, 131072);  // 0.125 MiB
  EXPECT_EQ(rep.current.footprint.bytes_at_ctx, 512 * kMiB);
  EXPECT_EQ(rep.mha.footprint.bytes_per_token, 524288);
  EXPECT_DOUBLE_EQ(rep.current.compression, 4.0);
}

TEST(KvPlan, TenUsersAtFourKMhaTakeTwentyGiB) {
  KvRequest r = request_for("llama-2-7b");
  r.users = 10;
  const KvReport rep = make_report(r);
  EXPECT_EQ(*rep.current.bytes_total, 20 * kGiB);
}

TEST(KvPlan, GqaWithFp8ServesSixToEightTimesTheSessionsOfMhaF16) {
  KvRequest r = request_for("llama-2-7b");
  r.memory_bytes = 80 * kGiB;
  r.weights = weights_format_of(DType::kBF16);
  const int64_t mha_f16 = make_report(r).current.capacity->sessions;
  r.kv_dtype = KvDtype::kF8E4M3;
  r.kv_heads = 8;
  const KvReport rep = make_report(r);
  EXPECT_DOUBLE_EQ(rep.current.compression_vs_mha_f16, 8.0);  // 4x from grouping, 2x from fp8
  // Whole sessions: 33 MHA f16 sessions (33.7 before rounding down) against 269.
  const double ratio = static_cast<double>(rep.current.capacity->sessions) / mha_f16;
  EXPECT_GE(ratio, 7.5);
  EXPECT_LE(ratio, 8.5);
}

TEST(KvPlan, SlidingLayersHoldMinOfContextAndWindow) {
  const ModelConfig& g = find_preset("gemma-3-4b")->config;
  for (int64_t ctx : {100, 1024, 1025, 4096, 131072}) {
    const auto layers = layer_footprints(g, KvDtype::kF16, ctx, 16);
    int64_t total = 0;
    for (const auto& f : layers) {
      const int64_t want =
          f.attention == LayerAttention::kSliding ? std::min<int64_t>(ctx, 1024) : ctx;
      EXPECT_EQ(f.tokens_held, want);
      EXPECT_EQ(f.bytes_per_token, 2 * 4 * 256 * 2);
      total += f.bytes_at_ctx;
    }
    const int64_t per_layer_token = 2 * 4 * 256 * 2;
    EXPECT_EQ(total, (29 * std::min<int64_t>(ctx, 1024) + 5 * ctx) * per_layer_token);
    EXPECT_EQ(kv_footprint(g, KvDtype::kF16, ctx, 16).bytes_at_ctx, total);
  }
  const ModelConfig& m = find_preset("mistral-7b-v0.1")->config;
  EXPECT_EQ(kv_footprint(m, KvDtype::kF16, 32768, 16).bytes_at_ctx, 4096 * 131072);
}

TEST(KvPlan, PagedRoundingUsesWholeBlocks) {
  const ModelConfig& m = find_preset("llama-2-7b")->config;
  const KvFootprint f = kv_footprint(m, KvDtype::kF16, 4097, 16);
  EXPECT_EQ(f.bytes_at_ctx, int64_t{4097} * 524288);
  EXPECT_EQ(f.bytes_at_ctx_paged, int64_t{4112} * 524288);
  EXPECT_EQ(f.layer_blocks, 32 * 257);
}

// Capacity, from the paged-block arithmetic written out independently:
//   blocks = floor(available / (2 * block_size * h_kv * d_h * bytes * L))
//   sessions = floor(blocks / ceil(ctx / block_size))
TEST(KvPlan, CapacityAgreesWithPagedBlockArithmeticOnRandomModels) {
  std::mt19937_64 rng(2305);
  const KvDtype plain[] = {KvDtype::kF32, KvDtype::kF16, KvDtype::kBF16, KvDtype::kF8E4M3,
                           KvDtype::kF8E5M2};
  const int64_t bytes_of[] = {4, 2, 2, 1, 1};
  for (int trial = 0; trial < 2000; ++trial) {
    ModelConfig m;
    m.name = "random";
    m.layers = 1 + static_cast<int64_t>(rng() % 95);
    m.heads = 1 + static_cast<int64_t>(rng() % 67);
    const auto divisors = valid_kv_head_counts(m.heads);
    m.kv_heads = divisors[rng() % divisors.size()];
    m.head_dim = 1 + static_cast<int64_t>(rng() % 257);
    m.hidden = m.heads * m.head_dim;
    m.intermediate = 1 + static_cast<int64_t>(rng() % 20000);
    m.vocab = 1 + static_cast<int64_t>(rng() % 200000);
    m.layer_types.assign(static_cast<size_t>(m.layers), LayerAttention::kFull);
    const size_t d = rng() % 5;
    const int64_t ctx = 1 + static_cast<int64_t>(rng() % 200000);
    const int64_t bs = 1 + static_cast<int64_t>(rng() % 300);
    const int64_t memory = static_cast<int64_t>(rng() % (int64_t{200} << 30)) + 1;
    const Capacity c = capacity(m, plain[d], ctx, bs, {.memory_bytes = memory});
    const int64_t weights = m.parameter_count() * 2;
    const int64_t avail = memory > weights ? memory - weights : 0;
    const int64_t blocks = avail / (2 * bs * m.kv_heads * m.head_dim * bytes_of[d] * m.layers);
    const int64_t sessions = blocks / ((ctx + bs - 1) / bs);
    ASSERT_EQ(c.blocks, blocks) << trial;
    ASSERT_EQ(c.sessions, sessions) << trial;
    ASSERT_EQ(c.weights_fit, memory >= weights);
  }
}

TEST(KvPlan, CapacityOfInt8AndBlockFormatsCountsTheirScales) {
  const ModelConfig& m = find_preset("llama-3.1-8b")->config;
  const Capacity c = capacity(m, KvDtype::kInt8, 8192, 16, {.memory_bytes = 80 * kGiB});
  EXPECT_EQ(c.block_bytes, 2 * 16 * 8 * (128 + 4) * 32);
  EXPECT_EQ(m.kv_bytes_per_token(KvDtype::kQ8_0), 2 * 32 * 8 * 136);  // 8.5 bits/value
  EXPECT_EQ(m.kv_bytes_per_token(KvDtype::kQ4_0), 2 * 32 * 8 * 72);   // 4.5 bits/value
}

TEST(KvPlan, WeightsLargerThanMemoryFitNoSessions) {
  const ModelConfig& m = find_preset("llama-2-70b")->config;
  const Capacity c = capacity(m, KvDtype::kF16, 4096, 16, {.memory_bytes = 24 * kGiB});
  EXPECT_FALSE(c.weights_fit);
  EXPECT_EQ(c.sessions, 0);
  const Capacity given =
      capacity(m, KvDtype::kF16, 4096, 16, {.memory_bytes = 24 * kGiB, .weights_bytes = 20 * kGiB});
  EXPECT_TRUE(given.weights_fit);
  EXPECT_EQ(given.weights_bytes, 20 * kGiB);
  EXPECT_GT(given.sessions, 0);
}

// Llama-3.1-8B (8 KV heads, 32 layers, head_dim 128, f16 KV: 128 KiB a token) on one GPU of
// 24 GiB with 10% overhead and 16-bit weights: every figure by hand.
TEST(KvPlan, TheVerdictAddsWeightsOverheadAndEveryUsersKv) {
  const ModelConfig& m = find_preset("llama-3.1-8b")->config;
  const int64_t weights = m.parameter_count() * 2;
  const Capacity c = capacity(m, KvDtype::kF16, 8192, 16,
                              {.memory_bytes = 24 * kGiB, .overhead_fraction = 0.10, .users = 4});
  const int64_t overhead = static_cast<int64_t>(0.10 * static_cast<double>(24 * kGiB));
  EXPECT_EQ(c.overhead_bytes, overhead);
  EXPECT_EQ(c.available_bytes, 24 * kGiB - weights - overhead);
  EXPECT_EQ(*c.gpu_bytes_needed, weights + overhead + 4 * kGiB);  // 4 users x 8192 x 128 KiB
  EXPECT_TRUE(*c.fits);
  // The longest context for 4 users: whole blocks of 16 tokens in what is left.
  const int64_t blocks_each = c.available_bytes / (16 * 128 * 1024) / 4;
  EXPECT_EQ(*c.max_ctx, blocks_each * 16);
  // Twice the users the memory holds: does not fit, and says how many do.
  const Capacity many =
      capacity(m, KvDtype::kF16, 8192, 16,
               {.memory_bytes = 24 * kGiB, .overhead_fraction = 0.10, .users = 2 * c.sessions + 2});
  EXPECT_FALSE(*many.fits);
  EXPECT_LT(*many.max_ctx, 8192);
}

// Tensor parallelism: weights split evenly, KV heads split while TP divides them and replicated
// past TP = h_kv (a head cannot be split).
TEST(KvPlan, TensorParallelSplitsWeightsAndKvHeadsThenReplicates) {
  const ModelConfig& m = find_preset("llama-3.1-8b")->config;  // 8 KV heads
  const int64_t one_gpu_kv = m.kv_bytes_per_token(KvDtype::kF16);
  for (const int64_t tp : {1, 2, 4, 8, 16, 32}) {
    const Capacity c = capacity(m, KvDtype::kF16, 4096, 16, {.memory_bytes = 80 * kGiB, .tp = tp});
    EXPECT_EQ(c.gpu_weights_bytes, ceil_div(m.parameter_count() * 2, tp)) << tp;
    EXPECT_EQ(c.kv_heads_per_gpu, std::max<int64_t>(1, 8 / tp)) << tp;
    EXPECT_EQ(c.kv_head_replicas, std::max<int64_t>(1, tp / 8)) << tp;
    EXPECT_EQ(c.gpu_kv_bytes_per_token, one_gpu_kv / 8 * c.kv_heads_per_gpu) << tp;
  }
  for (const int64_t bad : {3, 6, 12, 0})
    EXPECT_THROW(capacity(m, KvDtype::kF16, 4096, 16, {.memory_bytes = 80 * kGiB, .tp = bad}),
                 Error)
        << bad;
}

TEST(KvPlan, WeightsFormatsIncludingFourBit) {
  const ModelConfig& m = find_preset("llama-3.1-8b")->config;
  const int64_t p = m.parameter_count();
  EXPECT_EQ(weights_bytes(m, parse_weights_format("bf16")), p * 2);
  EXPECT_EQ(weights_bytes(m, parse_weights_format("fp8")), p);
  EXPECT_EQ(weights_bytes(m, parse_weights_format("q4_0")), (p * 9 + 15) / 16);  // 4.5 bits
  // AWQ/GPTQ: 4 bits + an f16 scale and a 4-bit zero per 128, embeddings and the untied LM
  // head in 16 bits.
  const int64_t emb = 2 * m.vocab * m.hidden;
  const double int4 = static_cast<double>(p - emb) * (4.0 + 20.0 / 128.0) / 8.0 + 2.0 * emb;
  EXPECT_EQ(weights_bytes(m, parse_weights_format("int4-g128")),
            static_cast<int64_t>(std::ceil(int4)));
  EXPECT_THROW(parse_weights_format("q3_k"), Error);
  int64_t bytes = 0;
  double fraction = 0;
  parse_overhead("10%", bytes, fraction);
  EXPECT_DOUBLE_EQ(fraction, 0.10);
  parse_overhead("1.5GiB", bytes, fraction);
  EXPECT_EQ(bytes, 3 * kGiB / 2);
  for (const char* bad : {"100%", "-1%", "x%", "%", "-1GiB"})
    EXPECT_THROW(parse_overhead(bad, bytes, fraction), Error) << bad;
}

TEST(KvPlan, SweepRunsFromMhaToMqaOverDivisors) {
  KvRequest r = request_for("smollm2-360m");  // 15 heads: 15, 5, 3, 1
  r.sweep = true;
  const KvReport rep = make_report(r);
  ASSERT_EQ(rep.sweep.size(), 4u);
  EXPECT_EQ(rep.sweep.front().kv_heads, 15);
  EXPECT_EQ(rep.sweep.back().kv_heads, 1);
  for (const auto& row : rep.sweep) {
    EXPECT_EQ(row.footprint.bytes_per_token, 2 * 32 * row.kv_heads * 64 * 2);
    EXPECT_DOUBLE_EQ(row.compression, 15.0 / static_cast<double>(row.kv_heads));
  }
}

TEST(KvPlan, BadRequestsAreErrorsNotNumbers) {
  KvRequest r = request_for("llama-2-7b");
  r.ctx = 0;
  EXPECT_THROW(make_report(r), Error);
  r.ctx = -4096;
  EXPECT_THROW(make_report(r), Error);
  r.ctx = int64_t{1} << 50;
  EXPECT_THROW(make_report(r), Error);
  r = request_for("llama-2-7b");
  r.block_size = 0;
  EXPECT_THROW(make_report(r), Error);
  r = request_for("llama-2-7b");
  r.users = 0;
  EXPECT_THROW(make_report(r), Error);
  r = request_for("llama-2-7b");
  r.kv_heads = 6;
  EXPECT_THROW(make_report(r), Error);
  r = request_for("llama-2-7b");
  r.users = 1'000'000'000;
  r.ctx = 1'000'000'000;
  EXPECT_THROW(make_report(r), Error);  // overflows 64 bits: an error, not a wrapped number
}

TEST(KvPlan, JsonHasTheDocumentedFields) {
  KvRequest r = request_for("llama-2-7b");
  r.kv_heads = 8;
  r.users = 10;
  r.memory_bytes = 80 * kGiB;
  r.sweep = true;
  r.per_layer = true;
  const nlohmann::json j = to_json(make_report(r));
  for (const char* key : {"layers", "heads", "kv_heads", "head_dim", "kv_dtype", "ctx",
                          "kv_bytes_per_token", "kv_bytes_at_ctx", "mha_kv_bytes_per_token",
                          "compression", "kv_bytes_total", "sessions_fit", "rows", "per_layer"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["kv_heads"], 8);
  EXPECT_EQ(j["kv_bytes_per_token"], 131072);
  EXPECT_EQ(j["kv_bytes_at_ctx"], 512 * kMiB);
  EXPECT_EQ(j["kv_dtype"], "f16");
  EXPECT_EQ(j["rows"].size(), 6u);
  EXPECT_EQ(j["rows"][0]["kv_heads"], 32);
  EXPECT_EQ(j["rows"][0]["kv_bytes_total"], 20 * kGiB);
  EXPECT_TRUE(j["rows"][0].contains("sessions_fit"));
  EXPECT_EQ(j["per_layer"].size(), 32u);
}

}  // namespace
}  // namespace gqa::plan

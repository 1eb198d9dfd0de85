// The block pool and sequence tables, and their agreement with the planner.
#include <gtest/gtest.h>

#include <random>

#include "config/presets.h"
#include "core/error.h"
#include "kv/block_pool.h"
#include "kv/kv_layout.h"
#include "plan/capacity.h"
#include "plan/kv_footprint.h"

namespace gqa::kv {
namespace {

TEST(KvCache, PoolHoldsExactlyWhatThePlannerPredicts) {
  std::mt19937_64 rng(6);
  const KvDtype dtypes[] = {KvDtype::kF32,    KvDtype::kF16,    KvDtype::kBF16,
                            KvDtype::kF8E4M3, KvDtype::kF8E5M2, KvDtype::kInt8};
  for (int trial = 0; trial < 500; ++trial) {
    const auto& presets = gqa::presets();
    ModelConfig m = presets[rng() % presets.size()].config;
    const auto counts = valid_kv_head_counts(m.heads);
    m = m.regrouped(counts[rng() % counts.size()]);
    m.layer_types.assign(static_cast<size_t>(m.layers), LayerAttention::kFull);  // full attention
    const KvDtype t = dtypes[rng() % 6];
    const int64_t bs = 1 + static_cast<int64_t>(rng() % 64);
    const int64_t ctx = 1 + static_cast<int64_t>(rng() % 50000);
    const int64_t memory = static_cast<int64_t>(rng() % (int64_t{400} << 30)) + (int64_t{1} << 20);
    const plan::Capacity c = plan::capacity(m, t, ctx, bs, {.memory_bytes = memory});
    const KvLayout layout = KvLayout::for_model(m, t, bs);
    ASSERT_EQ(static_cast<int64_t>(layout.block_bytes()), c.block_bytes) << m.name;
    ASSERT_EQ(BlockPool::blocks_for_memory(layout, c.available_bytes), c.blocks) << m.name;
    ASSERT_EQ(BlockPool::blocks_for_tokens(layout, ctx), c.blocks_per_session) << m.name;
    ASSERT_EQ(c.blocks / BlockPool::blocks_for_tokens(layout, ctx), c.sessions) << m.name;
  }
}

TEST(KvCache, ARealPoolFromAMemoryBudgetHoldsThePlannedSessions) {
  ModelConfig m = find_preset("stories15m")->config;  // small enough to allocate for real
  const int64_t budget = int64_t{48} << 20, ctx = 256;
  const KvLayout layout = KvLayout::for_model(m, KvDtype::kInt8, 16);
  BlockPool pool(layout, BlockPool::blocks_for_memory(layout, budget));
  const plan::Capacity c =
      plan::capacity(m, KvDtype::kInt8, ctx, 16, plan::CapacityRequest::pool_only(budget));
  std::vector<std::unique_ptr<SequenceKv>> sessions;
  for (;;) {
    auto s = std::make_unique<SequenceKv>(pool);
    if (!s->reserve(ctx)) break;
    sessions.push_back(std::move(s));
  }
  EXPECT_EQ(static_cast<int64_t>(sessions.size()), c.sessions);
  EXPECT_EQ(static_cast<int64_t>(sessions.size()) * ctx, c.sessions * ctx);  // tokens held
  sessions.clear();
  EXPECT_EQ(pool.free_blocks(), pool.total_blocks());
}

TEST(KvCache, ReserveIsAllOrNothingAndBlocksComeBack) {
  const ModelConfig m = find_preset("stories15m")->config;
  const KvLayout layout = KvLayout::for_model(m, KvDtype::kF16, 16);
  BlockPool pool(layout, 5);
  SequenceKv a(pool);
  ASSERT_TRUE(a.reserve(40));  // 3 blocks
  EXPECT_EQ(pool.free_blocks(), 2);
  {
    SequenceKv b(pool);
    EXPECT_FALSE(b.reserve(48));  // needs 3, only 2 free: nothing taken
    EXPECT_EQ(pool.free_blocks(), 2);
    EXPECT_TRUE(b.reserve(32));
    EXPECT_EQ(pool.free_blocks(), 0);
  }
  EXPECT_EQ(pool.free_blocks(), 2);  // b's destructor returned its blocks
  a.truncate(10);
  EXPECT_EQ(a.held_blocks(), 1);
  EXPECT_EQ(pool.free_blocks(), 4);
  EXPECT_THROW(KvLayout::for_model(m, KvDtype::kQ4_0, 16), Error);
  EXPECT_THROW(KvLayout::for_model(m, KvDtype::kF16, 0), Error);
}

// Gemma 3's pattern (five sliding layers to one full): one block table per layer, and a sliding
// layer gives its blocks back as the window moves. Decoding token by token, the most blocks the
// sequence ever holds is the planner's per-session layer-block figure, exactly.
TEST(KvCache, SlidingLayersKeepOnlyTheirWindowAsThePlannerSays) {
  for (const int64_t window : {1, 5, 8, 10, 33}) {
    for (const int64_t bs : {1, 4, 16}) {
      ModelConfig m = find_preset("gemma-3-4b")->config;
      m.sliding_window = window;
      const KvLayout layout = KvLayout::for_model(m, KvDtype::kF16, bs);
      ASSERT_EQ(layout.tables(), m.layers);
      ASSERT_EQ(layout.block_layers, 1);
      const int64_t ctx = 70;
      BlockPool pool(layout, layout.blocks_for_tokens(ctx));
      SequenceKv seq(pool, ctx);
      int64_t peak = 0;
      for (int64_t t = 0; t < ctx; ++t) {
        const int64_t before = pool.free_blocks(), want = seq.blocks_to_reserve(t + 1);
        ASSERT_TRUE(seq.reserve(t + 1));
        ASSERT_EQ(before - pool.free_blocks(), want);
        peak = std::max(peak, seq.held_blocks());
        seq.forget_before(t + 1);
        ASSERT_EQ(seq.held_blocks(), pool.total_blocks() - pool.free_blocks());
      }
      const plan::KvFootprint f = plan::kv_footprint(m, KvDtype::kF16, ctx, bs);
      EXPECT_EQ(peak, f.layer_blocks) << "window " << window << " block " << bs;
      EXPECT_EQ(static_cast<int64_t>(layout.block_bytes()) * peak, f.bytes_at_ctx_paged);
      seq.truncate(0);
      EXPECT_EQ(pool.free_blocks(), pool.total_blocks());
    }
  }
  // Every layer sliding (Mistral): one table of all-layer blocks, given back whole.
  ModelConfig mistral = find_preset("mistral-7b-v0.1")->config;
  mistral.sliding_window = 8;
  const KvLayout layout = KvLayout::for_model(mistral, KvDtype::kF16, 4);
  EXPECT_EQ(layout.tables(), 1);
  BlockPool pool(layout, 20);
  SequenceKv seq(pool);
  ASSERT_TRUE(seq.reserve(40));  // one call of 40 tokens holds them all
  EXPECT_EQ(seq.held_blocks(), 10);
  seq.forget_before(40);  // the next position sees 33..40: blocks 8 and 9
  EXPECT_EQ(seq.held_blocks(), 2);
  EXPECT_EQ(seq.block_ids(0)[7], -1);
}

}  // namespace
}  // namespace gqa::kv

// The paged GQA attention kernel against its reference: MHA, GQA and MQA; head_dim 48, 64, 80
// and 128; odd context lengths; decode and prefill; sliding windows; every SIMD path the CPU
// has; blocks scattered in memory; and quantized KV against f32 KV.
#include <gtest/gtest.h>

#include "random_fixtures.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "ops/kv_quant.h"
#include "ops/paged_attention.h"
#include "ops/vec.h"

namespace gqa::ops {
namespace {

// A sequence's KV written into blocks of one layer whose memory order is a permutation.
struct TestCache {
  int64_t kv_heads, hd, bs, n;
  KvDtype dtype;
  size_t vec_bytes, run;
  std::vector<std::byte> memory;
  std::vector<const std::byte*> blocks;
  std::vector<size_t> k_off, v_off;

  TestCache(int64_t kv_heads_, int64_t hd_, int64_t bs_, int64_t n_, KvDtype t,
            const std::vector<float>& k, const std::vector<float>& v, std::mt19937_64* shuffle)
      : kv_heads(kv_heads_), hd(hd_), bs(bs_), n(n_), dtype(t) {
    vec_bytes = static_cast<size_t>(kv_vector_bytes(t, hd));
    run = static_cast<size_t>(bs) * vec_bytes;
    const size_t block_bytes = run * 2 * static_cast<size_t>(kv_heads);
    const int64_t nb = (n + bs - 1) / bs;
    memory.resize(block_bytes * static_cast<size_t>(nb));
    std::vector<int64_t> order(static_cast<size_t>(nb));
    std::iota(order.begin(), order.end(), 0);
    if (shuffle) std::shuffle(order.begin(), order.end(), *shuffle);
    for (int64_t b = 0; b < nb; ++b)
      blocks.push_back(memory.data() + static_cast<size_t>(order[b]) * block_bytes);
    for (int64_t g = 0; g < kv_heads; ++g) {
      k_off.push_back(static_cast<size_t>(2 * g) * run);
      v_off.push_back(static_cast<size_t>(2 * g + 1) * run);
    }
    for (int64_t g = 0; g < kv_heads; ++g)
      for (int64_t j = 0; j < n; ++j) {
        std::byte* block = const_cast<std::byte*>(blocks[j / bs]);
        encode_k_slot(t, &k[(g * n + j) * hd], hd, bs, j % bs, block + k_off[g]);
        encode_kv_vector(t, &v[(g * n + j) * hd], hd,
                         block + v_off[g] + static_cast<size_t>(j % bs) * vec_bytes);
      }
  }
  PagedKv view() const {
    return PagedKv{dtype, hd, bs, vec_bytes, blocks.data(), n, k_off.data(), v_off.data()};
  }
};

using test::randn;

using test::max_rel;

TEST(PagedAttention, FastMatchesReferenceAcrossGroupingsHeadDimsLengthsAndSimdPaths) {
  AttentionScratch scratch;  // reused across calls of every size, as a session does
  std::mt19937_64 rng(3);
  const VecOps* impls[3];
  const int n_impls = available_vec_ops(impls, 3);
  for (auto [heads, kv_heads] :
       {std::pair<int64_t, int64_t>{6, 6}, {8, 4}, {12, 3}, {16, 2}, {7, 1}}) {
    for (int64_t hd : {48, 64, 80, 128}) {
      for (auto [first_pos, n_q, window] : {std::tuple<int64_t, int64_t, int64_t>{0, 1, 0},
                                            {16, 1, 0},
                                            {100, 1, 0},
                                            {256, 1, 0},
                                            {40, 1, 7},
                                            {0, 37, 0},
                                            {10, 7, 0},
                                            {5, 20, 6}}) {
        const int64_t n = first_pos + n_q, bs = hd == 80   ? 37
                                                : hd == 48 ? 1
                                                           : 16;  // odd blocks too
        const auto k = randn(rng, static_cast<size_t>(kv_heads * n * hd));
        const auto v = randn(rng, k.size());
        const auto q = randn(rng, static_cast<size_t>(n_q * heads * hd));
        const TestCache cache(kv_heads, hd, bs, n, KvDtype::kF32, k, v, &rng);
        const AttentionShape s{heads, kv_heads, hd, window};
        std::vector<float> ref(q.size()), fast(q.size());
        paged_attention_reference(s, cache.view(), q.data(), n_q, first_pos, ref.data());
        for (int i = 0; i < n_impls; ++i) {
          paged_attention(s, cache.view(), q.data(), n_q, first_pos, fast.data(), scratch,
                          *impls[i]);
          EXPECT_LE(max_rel(fast, ref), 1e-5)
              << impls[i]->name << " H=" << heads << " kv=" << kv_heads << " hd=" << hd
              << " pos=" << first_pos << " n_q=" << n_q << " w=" << window;
        }
      }
    }
  }
}

// The AVX-512 chunk kernels read the stored bytes of every dtype directly (keys dimension-major);
// the reference widens them first. Groupings whose n_rep needs every row-group size (15 = 8 + 4
// + 2 + 1), block sizes that split into whole and partial chunks of 16 (16, 37, 5), an odd
// number of chunks (the one-chunk tail), decode and causal prefill, and a window. The other SIMD
// paths (f32 tiles scored with the AVX2 or scalar vec ops) on two head_dims.
TEST(PagedAttention, EveryPathReadsEveryStoredDtypeLikeTheReference) {
  AttentionScratch scratch;  // reused across calls of every size, as a session does
  std::mt19937_64 rng(12);
  const VecOps* impls[3];
  const int n_impls = available_vec_ops(impls, 3);
  for (KvDtype t : {KvDtype::kF32, KvDtype::kF16, KvDtype::kBF16, KvDtype::kF8E4M3,
                    KvDtype::kF8E5M2, KvDtype::kInt8}) {
    for (auto [heads, kv_heads] :
         {std::pair<int64_t, int64_t>{5, 5}, {8, 4}, {8, 2}, {15, 1}, {16, 2}}) {
      for (int64_t hd : {32, 48, 64, 80, 128}) {
        for (auto [bs, first_pos, n_q, window] :
             {std::tuple<int64_t, int64_t, int64_t, int64_t>{16, 0, 1, 0},
              {16, 16, 1, 0},
              {16, 40, 1, 0},
              {37, 100, 1, 0},
              {5, 60, 1, 0},
              {16, 70, 1, 23},
              {16, 3, 19, 0},
              {37, 50, 9, 11}}) {
          const int64_t n = first_pos + n_q;
          const auto k = randn(rng, static_cast<size_t>(kv_heads * n * hd));
          const auto v = randn(rng, k.size());
          const auto q = randn(rng, static_cast<size_t>(n_q * heads * hd));
          const TestCache cache(kv_heads, hd, bs, n, t, k, v, &rng);
          const AttentionShape s{heads, kv_heads, hd, window};
          std::vector<float> ref(q.size()), fast(q.size());
          paged_attention_reference(s, cache.view(), q.data(), n_q, first_pos, ref.data());
          for (int i = 0; i < n_impls; ++i) {
            const VecOps& vec = *impls[i];
            if (&vec != &vec_ops() && hd != 48 && hd != 128) continue;
            paged_attention(s, cache.view(), q.data(), n_q, first_pos, fast.data(), scratch, vec);
            EXPECT_LE(max_rel(fast, ref), 1e-5)
                << vec.name << " " << kv_dtype_name(t) << " H=" << heads << " kv=" << kv_heads
                << " hd=" << hd << " bs=" << bs << " pos=" << first_pos << " n_q=" << n_q
                << " w=" << window;
          }
        }
      }
    }
  }
}

TEST(PagedAttention, ShuffledBlockTableGivesTheSameResultAsContiguousBlocks) {
  AttentionScratch scratch;  // reused across calls of every size, as a session does
  std::mt19937_64 rng(4);
  for (KvDtype t : {KvDtype::kF32, KvDtype::kBF16, KvDtype::kInt8}) {
    const int64_t heads = 8, kv_heads = 2, hd = 64, n = 203, bs = 16;
    const auto k = randn(rng, static_cast<size_t>(kv_heads * n * hd));
    const auto v = randn(rng, k.size());
    const auto q = randn(rng, static_cast<size_t>(heads * hd));
    const TestCache contiguous(kv_heads, hd, bs, n, t, k, v, nullptr);
    const TestCache shuffled(kv_heads, hd, bs, n, t, k, v, &rng);
    std::vector<float> a(q.size()), b(q.size());
    paged_attention({heads, kv_heads, hd, 0}, contiguous.view(), q.data(), 1, n - 1, a.data(),
                    scratch);
    paged_attention({heads, kv_heads, hd, 0}, shuffled.view(), q.data(), 1, n - 1, b.data(),
                    scratch);
    EXPECT_EQ(a, b) << kv_dtype_name(t);
  }
}

// Attention over quantized KV against the same attention over f32 KV: max |diff| / max |f32|.
// Measured errors are a few times smaller than these documented bounds.
TEST(PagedAttention, QuantizedKvStaysWithinItsDocumentedToleranceOfF32) {
  AttentionScratch scratch;  // reused across calls of every size, as a session does
  const std::pair<KvDtype, double> bounds[] = {{KvDtype::kF16, 2e-3},
                                               {KvDtype::kBF16, 1.5e-2},
                                               {KvDtype::kF8E4M3, 8e-2},
                                               {KvDtype::kF8E5M2, 1.5e-1},
                                               {KvDtype::kInt8, 3e-2}};
  std::mt19937_64 rng(5);
  const int64_t heads = 8, kv_heads = 2, hd = 128, n = 301;
  for (const auto& [t, bound] : bounds) {
    double worst = 0;
    for (int trial = 0; trial < 5; ++trial) {
      const auto k = randn(rng, static_cast<size_t>(kv_heads * n * hd));
      const auto v = randn(rng, k.size());
      const auto q = randn(rng, static_cast<size_t>(heads * hd));
      const TestCache exact(kv_heads, hd, 16, n, KvDtype::kF32, k, v, nullptr);
      const TestCache quant(kv_heads, hd, 16, n, t, k, v, nullptr);
      std::vector<float> a(q.size()), b(q.size());
      paged_attention({heads, kv_heads, hd, 0}, exact.view(), q.data(), 1, n - 1, a.data(),
                      scratch);
      paged_attention({heads, kv_heads, hd, 0}, quant.view(), q.data(), 1, n - 1, b.data(),
                      scratch);
      worst = std::max(worst, max_rel(b, a));
    }
    EXPECT_LE(worst, bound) << kv_dtype_name(t);
    RecordProperty(std::string("max_rel_") + std::string(kv_dtype_name(t)), std::to_string(worst));
  }
}

// The kernels read nothing past a KV head's stored vectors: the cache is copied to end at an
// inaccessible page, so that a read past the last value vector of the last block (a wide load
// over-running head_dim) faults. Every dtype, head_dims whose vectors are 32-256 bytes, and row
// groups 1-8, decoding the last slot of a full last block.
TEST(PagedAttention, ReadsNothingPastTheLastStoredVector) {
  AttentionScratch scratch;  // reused across calls of every size, as a session does
  std::mt19937_64 rng(13);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (KvDtype t : {KvDtype::kF32, KvDtype::kF16, KvDtype::kBF16, KvDtype::kF8E4M3,
                    KvDtype::kF8E5M2, KvDtype::kInt8}) {
    for (int64_t hd : {32, 48, 64, 128}) {
      for (int64_t n_rep : {1, 2, 4, 8}) {
        const int64_t kv_heads = 2, heads = kv_heads * n_rep, bs = 16, n = 48;
        const auto k = randn(rng, static_cast<size_t>(kv_heads * n * hd));
        const auto v = randn(rng, k.size());
        const auto q = randn(rng, static_cast<size_t>(heads * hd));
        const TestCache cache(kv_heads, hd, bs, n, t, k, v, nullptr);
        const size_t bytes = cache.memory.size();
        const size_t span = (bytes + page - 1) / page * page;
        void* region =
            mmap(nullptr, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_NE(region, MAP_FAILED);
        auto* base = static_cast<std::byte*>(region);
        ASSERT_EQ(mprotect(base + span, page, PROT_NONE), 0);
        std::byte* start = base + span - bytes;  // the cache ends where the guard page begins
        std::copy(cache.memory.begin(), cache.memory.end(), start);
        std::vector<const std::byte*> blocks;
        for (const std::byte* b : cache.blocks) blocks.push_back(start + (b - cache.memory.data()));
        PagedKv kv = cache.view();
        kv.blocks = blocks.data();
        std::vector<float> ref(q.size()), fast(q.size());
        paged_attention_reference({heads, kv_heads, hd, 0}, kv, q.data(), 1, n - 1, ref.data());
        paged_attention({heads, kv_heads, hd, 0}, kv, q.data(), 1, n - 1, fast.data(), scratch);
        EXPECT_LE(max_rel(fast, ref), 1e-5)
            << kv_dtype_name(t) << " hd=" << hd << " n_rep=" << n_rep;
        munmap(region, span + page);
      }
    }
  }
}

}  // namespace
}  // namespace gqa::ops

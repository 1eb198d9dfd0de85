// A decode step allocates nothing: a session's activations and its attention scratch are sized
// once (model/activations.h, ops::AttentionScratch), as llama2.c's RunState is. This program
// replaces the global operator new with one that counts while a test asks it to.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <vector>

#include "checkpoint_fixtures.h"
#include "model/activations.h"
#include "model/model.h"
#include "model/session.h"
#include "temp_dir.h"

// AddressSanitizer brings its own operator new; counting is left to the other builds.
#if defined(__SANITIZE_ADDRESS__)
#define GQA_COUNTS_ALLOCATIONS 0
#else
#define GQA_COUNTS_ALLOCATIONS 1
#endif

namespace {
std::atomic<bool> counting{false};
std::atomic<int64_t> allocations{0};
}  // namespace

#if GQA_COUNTS_ALLOCATIONS
namespace {
void* counted_malloc(std::size_t n, std::size_t align) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
  if (n == 0) n = 1;
  void* p = align <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(align, (n + align - 1) / align * align);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) {
  return counted_malloc(n, alignof(std::max_align_t));
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_malloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
#endif

namespace gqa::model {
namespace {

namespace fs = std::filesystem;

// Allocations made by f() on this and any other thread.
template <typename F>
int64_t allocations_in(F&& f) {
  allocations = 0;
  counting = true;
  f();
  counting = false;
  return allocations.load();
}

// heads 4, 2 KV heads; head_dim 64 takes the AVX-512 chunk kernels, 8 the tile path.
fs::path small_model(const fs::path& root, int64_t head_dim) {
  ModelConfig m = test::tiny_config(Architecture::kLlama, 4, 2, head_dim);
  m.max_positions = 1024;
  const fs::path dir = root / ("hd" + std::to_string(head_dim));
  test::make_checkpoint(m, dir, DType::kBF16, 7);
  return dir;
}

// Contexts past 32 chunks of 16 tokens, so that attention forks threads too.
constexpr int64_t kPrompt = 300, kSteps = 40, kCapacity = kPrompt + kSteps + 1;

class DecodeAllocations : public ::testing::TestWithParam<KvDtype> {};

TEST_P(DecodeAllocations, ASessionsDecodeStepsAllocateNothing) {
  if (!GQA_COUNTS_ALLOCATIONS) GTEST_SKIP() << "operator new belongs to AddressSanitizer";
  test::TempDir tmp;
  for (int64_t hd : {int64_t{8}, int64_t{64}}) {
    const Model m(small_model(tmp.path(), hd));
    Session s(m, kCapacity, {GetParam(), 16});
    std::vector<int32_t> prompt(kPrompt);
    for (int64_t i = 0; i < kPrompt; ++i)
      prompt[static_cast<size_t>(i)] = static_cast<int32_t>(i % 61);
    std::vector<float> logits;
    // The prefill grows the activations to 300 rows: the counter sees that.
    EXPECT_GT(allocations_in([&] { s.forward(prompt, logits); }), 0);
    const int32_t first = 5;
    s.forward(std::span(&first, 1), logits);  // logits now has its decode size
    const int64_t n = allocations_in([&] {
      for (int64_t t = 0; t < kSteps - 1; ++t) {  // crosses block boundaries
        const int32_t id = static_cast<int32_t>(t % 61);
        s.forward(std::span(&id, 1), logits);
      }
    });
    EXPECT_EQ(n, 0) << "head_dim " << hd << ": " << n << " allocations in " << kSteps - 1
                    << " decode steps";
    EXPECT_EQ(s.position(), kPrompt + kSteps);
  }
}

TEST_P(DecodeAllocations, BatchedDecodeStepsAllocateNothing) {
  if (!GQA_COUNTS_ALLOCATIONS) GTEST_SKIP() << "operator new belongs to AddressSanitizer";
  test::TempDir tmp;
  const Model m(small_model(tmp.path(), 64));
  kv::BlockPool pool(kv::KvLayout::for_model(m.config(), GetParam(), 16), 3 * kCapacity / 16 + 3);
  Session a(m, pool, kCapacity), b(m, pool, kCapacity), c(m, pool, kCapacity);
  Activations act;
  act.reserve(m.config(), 3, 3, 16, kCapacity);
  std::vector<int32_t> prompt(kPrompt, 3);
  std::vector<float> logits;
  Session::Segment pre[] = {
      {&a, prompt}, {&b, std::span(prompt).first(100)}, {&c, std::span(prompt).first(7)}};
  Session::forward_batch(pre, logits, act);
  int32_t next[3] = {1, 2, 3};
  Session::Segment step[] = {
      {&a, std::span(&next[0], 1)}, {&b, std::span(&next[1], 1)}, {&c, std::span(&next[2], 1)}};
  Session::forward_batch(step, logits, act);
  const int64_t n = allocations_in([&] {
    for (int64_t t = 0; t < kSteps - 1; ++t) Session::forward_batch(step, logits, act);
  });
  EXPECT_EQ(n, 0) << n << " allocations in " << kSteps - 1 << " batched decode steps";
  EXPECT_EQ(a.position(), kPrompt + kSteps);
}

INSTANTIATE_TEST_SUITE_P(KvDtypes, DecodeAllocations,
                         ::testing::Values(KvDtype::kF32, KvDtype::kF16, KvDtype::kBF16,
                                           KvDtype::kF8E4M3, KvDtype::kInt8),
                         [](const auto& info) {
                           std::string n(kv_dtype_name(info.param));
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace gqa::model

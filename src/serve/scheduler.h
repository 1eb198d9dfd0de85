#pragma once
// Continuous batching over one paged KV cache. One thread runs the loop:
//   1. ends sequences whose client went away (their blocks return to the pool);
//   2. admits waiting sequences, oldest first, while a batch slot is free and the free blocks
//      cover the prompt (and the blocks running sequences take in the next step), and
//      prefills them whole up to prefill_chunk tokens in all; a longer prompt is admitted
//      alone (nothing else is admitted until it is done) and prefilled a chunk per step;
//   3. runs one batched decode step for every running sequence (Session::forward_batch: one
//      matmul per projection, attention per sequence over its own blocks), after pausing the
//      newest sequences when the pool cannot give each running sequence its next token. A
//      paused sequence goes back to the front of the queue and, when re-admitted, prefills its
//      prompt and what it had generated, then goes on (as vLLM's recompute preemption; the
//      prefill sums in another order than decoding did, so a resumed greedy continuation can
//      differ from an uninterrupted one by rounding);
//   4. runs the next chunk of the sequence being prefilled in chunks, if any: a running stream
//      waits at most one chunk per token.
// A decode step computes each sequence's logits exactly as decoding it alone would, so greedy
// outputs equal `gqa generate`'s whatever the batch.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kv/block_pool.h"
#include "model/activations.h"
#include "model/model.h"
#include "model/sampler.h"
#include "serve/metrics.h"
#include "serve/sequence_handle.h"
#include "tokenizer/tokenizer.h"

namespace gqa::serve {

// The KV pool is sized by the first of these that is set: kv_blocks, kv_memory, kv_tokens;
// when none is, it holds max_seqs full contexts, at most a quarter of the machine's memory.
struct SchedulerOptions {
  int64_t kv_blocks = 0;  // blocks in the pool (each block_size tokens of every layer)
  int64_t kv_memory = 0;  // bytes of KV cache (weights not counted)
  int64_t kv_tokens = 0;  // tokens of KV cache
  KvDtype kv_dtype = KvDtype::kF16;
  int64_t block_size = 16;
  int64_t max_seqs = 16;   // sequences decoded together
  int64_t max_queue = 64;  // sequences waiting; more are refused (HTTP 429)
  int64_t ctx = 0;         // most tokens one sequence holds (prompt + generated)
  // Prompt tokens prefilled per step (0: whole prompts): a longer prompt runs a chunk between
  // decode steps, so running streams wait at most one chunk per token.
  int64_t prefill_chunk = 512;
};

// Blocks of the pool that `o` asks for (see SchedulerOptions). Throws Error when that is not
// one block.
int64_t kv_pool_blocks(const kv::KvLayout& layout, const SchedulerOptions& o);

// One sequence to generate: the prompt's ids and how to continue it.
struct GenerationRequest {
  std::vector<int32_t> prompt;
  int64_t max_tokens = 16;
  model::SamplerOptions sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  int64_t top_logprobs = -1;  // -1: no logprobs; else each token's and this many alternatives'
  int64_t choice = 0;         // index among the request's sequences, copied into its events
  std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();
};

// The log-softmax of `logits` at `id`, and the `top` most likely tokens (ties: lower id first).
TokenLogprob token_logprob(std::span<const float> logits, int32_t id, int64_t top);

class Scheduler {
 public:
  // Throws Error when the options are inconsistent (ctx larger than the pool holds, etc.).
  Scheduler(const model::Model& model, const tok::Tokenizer& tok, const SchedulerOptions& o,
            Metrics& metrics);
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  struct Entry {
    GenerationRequest request;
    std::shared_ptr<SequenceHandle> handle;
  };
  // Queues every entry or none: false when the queue has no room for all of them. Prompts
  // must be non-empty and prompt + max_tokens at most ctx() (the API layer checks; this throws
  // Error otherwise).
  bool submit(std::vector<Entry> entries);

  SchedulerGauges gauges() const;
  int64_t ctx() const { return o_.ctx; }
  // The options as used: kv_blocks is the pool's size.
  const SchedulerOptions& options() const { return o_; }
  const kv::KvLayout& kv_layout() const { return layout_; }
  // OpenMP threads of the forward passes on the scheduler's own thread: those of the thread
  // that built it (--threads). A new std::thread starts from OpenMP's defaults (every core), so
  // the loop sets them; 0 until the loop has started.
  int compute_threads() const { return compute_threads_.load(); }
  // Graceful shutdown, first step: refuse new sequences (submit() returns false and
  // draining() is true), let running and waiting ones go on until `deadline`, then end what is
  // left with a final "error" event. Returns at once; in_flight() says when all are done.
  void drain(std::chrono::steady_clock::time_point deadline);
  bool draining() const;
  // Sequences running or waiting.
  int64_t in_flight() const;
  // Ends the loop; sequences still running or waiting get a final "error" event.
  void stop();

 private:
  struct Sequence;
  void loop();
  void drop_cancelled();
  void admit();
  void decode_step();
  // Runs the next `n` pending tokens of a prefilling sequence; after its last chunk takes the
  // first token. False when the sequence ended (error, or finished at its first token).
  bool prefill_chunk(Sequence& s, int64_t n);
  // One chunk of the oldest sequence still prefilling, if any.
  void prefill_step();
  void publish_gauges();
  // Ends every running and waiting sequence with "the server is shutting down".
  void end_all();
  // Samples from `logits` and hands the token to the sequence; false when it has ended.
  bool take_token(Sequence& s, std::span<const float> logits);
  void finish(Sequence& s, const std::string& reason, const std::string& error = {});
  int64_t blocks_for(int64_t tokens) const {
    return kv::BlockPool::blocks_for_tokens(pool_.layout(), tokens);
  }
  // Running sequences at a block boundary: each takes a new block in the next decode step.
  int64_t blocks_needed_by_next_step() const;

  const model::Model& model_;
  const tok::Tokenizer& tok_;
  kv::KvLayout layout_;
  SchedulerOptions o_;
  Metrics& metrics_;
  kv::BlockPool pool_;

  mutable std::mutex mutex_;  // guards waiting_, stopping_ and the gauges below
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Sequence>> waiting_;  // paused sequences go back to the front
  bool stopping_ = false;
  bool draining_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
  int64_t running_ = 0, running_peak_ = 0;

  std::vector<std::unique_ptr<Sequence>> active_;  // scheduler thread only
  int64_t admitted_ = 0;                           // admission counter (newest is preempted)
  std::vector<float> logits_;
  model::Activations act_;  // of every prefill and decode step (scheduler thread only)
  std::atomic<int> compute_threads_{0};
  std::thread thread_;
};

}  // namespace gqa::serve

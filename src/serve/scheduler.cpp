#include "serve/scheduler.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "core/error.h"
#include "model/session.h"
#include "ops/matmul.h"
#include "tokenizer/text_stream.h"

namespace gqa::serve {

using Clock = std::chrono::steady_clock;

struct Scheduler::Sequence {
  Sequence(GenerationRequest r, std::shared_ptr<SequenceHandle> h, const tok::Tokenizer& tok)
      : request(std::move(r)),
        handle(std::move(h)),
        sampler(request.sampling),
        text(tok, request.stop) {}

  GenerationRequest request;
  std::shared_ptr<SequenceHandle> handle;
  model::Sampler sampler;
  tok::TextStream text;
  std::vector<int32_t> generated;           // the last one has not been run yet
  std::unique_ptr<model::Session> session;  // null while waiting
  // Chunked prefill: the tokens to prefill (prompt, and on resuming what was generated) and
  // how many of them have run. Prefilling while prefilled < pending.size().
  std::vector<int32_t> pending;
  size_t prefilled = 0;
  bool prefilling() const { return prefilled < pending.size(); }
  int64_t admitted_as = 0;
  Clock::time_point last_token;
};

namespace {

int64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : int64_t{8} << 30;
}

SchedulerOptions resolved(const kv::KvLayout& layout, SchedulerOptions o) {
  if (o.ctx <= 0) fail(ErrorKind::kInvalidArgument, "the context must be positive");
  o.kv_blocks = kv_pool_blocks(layout, o);
  return o;
}

}  // namespace

int64_t kv_pool_blocks(const kv::KvLayout& layout, const SchedulerOptions& o) {
  if (o.kv_blocks < 0 || o.kv_memory < 0 || o.kv_tokens < 0)
    fail(ErrorKind::kInvalidArgument, "the KV cache's size must be positive");
  if (o.kv_blocks > 0) return o.kv_blocks;
  int64_t blocks = 0;
  if (o.kv_memory > 0) {
    blocks = kv::BlockPool::blocks_for_memory(layout, o.kv_memory);
    if (blocks <= 0)
      fail(ErrorKind::kInvalidArgument, std::to_string(o.kv_memory) +
                                            " bytes of KV cache are less than one " +
                                            std::to_string(layout.block_bytes()) + "-byte block");
  } else if (o.kv_tokens > 0) {
    blocks = kv::BlockPool::blocks_for_tokens(layout, o.kv_tokens);
  } else {
    blocks = std::min<int64_t>(kv::BlockPool::blocks_for_tokens(layout, o.max_seqs * o.ctx),
                               physical_memory() / 4 / static_cast<int64_t>(layout.block_bytes()));
    blocks = std::max<int64_t>(blocks, 1);
  }
  return blocks;
}

Scheduler::Scheduler(const model::Model& model, const tok::Tokenizer& tok,
                     const SchedulerOptions& o, Metrics& metrics)
    : model_(model),
      tok_(tok),
      layout_(kv::KvLayout::for_model(model.config(), o.kv_dtype, o.block_size)),
      o_(resolved(layout_, o)),
      metrics_(metrics),
      pool_(layout_, o_.kv_blocks) {
  if (o_.max_seqs <= 0) fail(ErrorKind::kInvalidArgument, "--max-seqs must be positive");
  if (o_.max_queue < 0) fail(ErrorKind::kInvalidArgument, "--max-queue must be >= 0");
  if (blocks_for(o_.ctx) > o_.kv_blocks)
    fail(ErrorKind::kInvalidArgument,
         "the KV cache holds " + std::to_string(o_.kv_blocks / layout_.tables() * o_.block_size) +
             " tokens, fewer than one " + std::to_string(o_.ctx) +
             "-token context; give more --kv-memory/--kv-tokens or a smaller --ctx");
  act_.reserve(model.config(), o_.max_seqs, o_.max_seqs, o_.block_size, o_.ctx);
  thread_ = std::thread([this, threads = omp_get_max_threads()] {
    ops::set_threads(threads);
    compute_threads_ = omp_get_max_threads();
    loop();
  });
}

Scheduler::~Scheduler() {
  stop();
}

bool Scheduler::submit(std::vector<Entry> entries) {
  for (const Entry& e : entries) {
    const auto n = static_cast<int64_t>(e.request.prompt.size());
    if (n == 0 || e.request.max_tokens < 1 || n + e.request.max_tokens > o_.ctx)
      fail(ErrorKind::kInvalidArgument, "a sequence does not fit the context");
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || draining_) return false;
    if (static_cast<int64_t>(waiting_.size() + entries.size()) > o_.max_queue) return false;
    for (Entry& e : entries)
      waiting_.push_back(
          std::make_unique<Sequence>(std::move(e.request), std::move(e.handle), tok_));
  }
  wake_.notify_one();
  return true;
}

SchedulerGauges Scheduler::gauges() const {
  std::lock_guard lock(mutex_);
  return {pool_.total_blocks(), pool_.free_blocks(), running_,
          static_cast<int64_t>(waiting_.size()), running_peak_};
}

void Scheduler::drain(std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    drain_deadline_ = deadline;
  }
  wake_.notify_one();
}

bool Scheduler::draining() const {
  std::lock_guard lock(mutex_);
  return draining_;
}

int64_t Scheduler::in_flight() const {
  std::lock_guard lock(mutex_);
  return running_ + static_cast<int64_t>(waiting_.size());
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::publish_gauges() {
  std::lock_guard lock(mutex_);
  running_ = static_cast<int64_t>(active_.size());
  running_peak_ = std::max(running_peak_, running_);
}

void Scheduler::loop() {
  for (;;) {
    bool past_deadline = false;
    {
      std::unique_lock lock(mutex_);
      // Idle: sleep until a request arrives (waking now and then to drop cancelled ones).
      if (active_.empty())
        wake_.wait_for(lock, std::chrono::milliseconds(50),
                       [&] { return stopping_ || !waiting_.empty(); });
      if (stopping_) break;
      past_deadline = draining_ && std::chrono::steady_clock::now() >= drain_deadline_;
    }
    if (past_deadline) {
      end_all();
      continue;
    }
    drop_cancelled();
    admit();
    if (!active_.empty()) decode_step();
    prefill_step();
    publish_gauges();
  }
  end_all();  // shutting down: whoever still waits hears why
}

void Scheduler::end_all() {
  for (auto& s : active_) finish(*s, "error", "the server is shutting down");
  active_.clear();
  std::lock_guard lock(mutex_);
  for (auto& s : waiting_) finish(*s, "error", "the server is shutting down");
  waiting_.clear();
  running_ = 0;
}

void Scheduler::drop_cancelled() {
  auto gone = [&](const std::unique_ptr<Sequence>& s) {
    if (!s->handle->cancelled()) return false;
    if (s->session) s->session->reset();
    metrics_.count_cancelled();
    return true;
  };
  std::erase_if(active_, gone);
  std::lock_guard lock(mutex_);
  std::erase_if(waiting_, gone);
}

void Scheduler::admit() {
  // Prompt tokens this step may prefill at once (chunked prefill); a longer prompt is admitted
  // alone and runs in chunks.
  int64_t budget = o_.prefill_chunk;
  if (std::any_of(active_.begin(), active_.end(), [](const auto& a) { return a->prefilling(); }))
    return;  // one prefill in chunks at a time, oldest first
  while (static_cast<int64_t>(active_.size()) < o_.max_seqs) {
    std::unique_ptr<Sequence> s;
    {
      std::lock_guard lock(mutex_);
      if (waiting_.empty()) return;
      Sequence& front = *waiting_.front();
      // A paused sequence resumes by prefilling its prompt and everything it generated.
      const auto tokens =
          static_cast<int64_t>(front.request.prompt.size() + front.generated.size());
      // Room for its prompt and first decoded token, leaving the running sequences the
      // blocks their next step needs (so that admitting never forces a pause at once).
      if (pool_.free_blocks() < blocks_for(tokens + 1) + blocks_needed_by_next_step())
        return;  // oldest first: a long prompt is not overtaken forever
      s = std::move(waiting_.front());
      waiting_.pop_front();
    }
    s->pending = s->request.prompt;
    s->pending.insert(s->pending.end(), s->generated.begin(), s->generated.end());
    s->prefilled = 0;
    const auto capacity = static_cast<int64_t>(s->request.prompt.size()) + s->request.max_tokens;
    try {
      s->session = std::make_unique<model::Session>(model_, pool_, capacity);
    } catch (const Error& e) {
      finish(*s, "error", e.what());
      continue;
    }
    s->admitted_as = admitted_++;
    // Without chunking, or when it fits this step's budget, the prompt runs now; otherwise it
    // runs a chunk per step (prefill_step), and admission waits for the next step.
    const auto n = static_cast<int64_t>(s->pending.size());
    const bool now = o_.prefill_chunk == 0 || n <= budget;
    if (now) budget -= n;
    active_.push_back(std::move(s));
    if (!now) return;
    Sequence& admitted = *active_.back();
    if (!prefill_chunk(admitted, n)) active_.pop_back();
  }
}

bool Scheduler::prefill_chunk(Sequence& s, int64_t n) {
  const std::span<const int32_t> chunk(s.pending.data() + s.prefilled, static_cast<size_t>(n));
  try {
    const model::Session::Segment prefill{s.session.get(), chunk};
    model::Session::forward_batch(std::span(&prefill, 1), logits_, act_);
  } catch (const Error& e) {
    finish(s, "error", e.what());
    return false;
  }
  s.prefilled += static_cast<size_t>(n);
  if (s.prefilling()) return true;
  metrics_.add_prompt_tokens(static_cast<int64_t>(s.pending.size()));
  return take_token(s, logits_);
}

void Scheduler::prefill_step() {
  // The oldest sequence still prefilling gets one chunk.
  auto it = std::min_element(active_.begin(), active_.end(), [](const auto& a, const auto& b) {
    return a->prefilling() != b->prefilling() ? a->prefilling() : a->admitted_as < b->admitted_as;
  });
  if (it == active_.end() || !(*it)->prefilling()) return;
  Sequence& s = **it;
  const auto left = static_cast<int64_t>(s.pending.size() - s.prefilled);
  if (!prefill_chunk(s, std::min(left, o_.prefill_chunk))) active_.erase(it);
}

int64_t Scheduler::blocks_needed_by_next_step() const {
  int64_t need = 0;
  for (const auto& s : active_)  // a prefilling sequence holds back the rest of its prompt
    need += s->session->blocks_to_grow(
        s->prefilling() ? static_cast<int64_t>(s->pending.size() - s->prefilled) + 1 : 1);
  return need;
}

void Scheduler::decode_step() {
  // Every running sequence needs room for one more token; a sequence at a block boundary needs
  // a new block in each of its block tables. Pause the newest until the pool covers the rest.
  while (blocks_needed_by_next_step() > pool_.free_blocks() && active_.size() > 1) {
    auto newest = std::max_element(
        active_.begin(), active_.end(),
        [](const auto& a, const auto& b) { return a->admitted_as < b->admitted_as; });
    std::unique_ptr<Sequence> s = std::move(*newest);
    active_.erase(newest);
    s->session.reset();  // its blocks go back to the pool
    metrics_.count_preemption();
    std::lock_guard lock(mutex_);
    waiting_.push_front(std::move(s));
  }
  std::vector<model::Session::Segment> batch;
  batch.reserve(active_.size());
  for (const auto& s : active_)
    if (!s->prefilling()) batch.push_back({s->session.get(), std::span(&s->generated.back(), 1)});
  if (batch.empty()) return;
  try {
    model::Session::forward_batch(batch, logits_, act_);
  } catch (const Error& e) {
    std::erase_if(active_, [&](const std::unique_ptr<Sequence>& s) {
      if (s->prefilling()) return false;
      finish(*s, "error", e.what());
      return true;
    });
    return;
  }
  const auto vocab = static_cast<size_t>(model_.config().vocab);
  std::vector<std::unique_ptr<Sequence>> still;
  still.reserve(active_.size());
  size_t row = 0;
  for (auto& s : active_) {
    if (s->prefilling()) {
      still.push_back(std::move(s));
      continue;
    }
    if (take_token(*s, std::span(logits_).subspan(row++ * vocab, vocab)))
      still.push_back(std::move(s));
  }
  active_ = std::move(still);
}

TokenLogprob token_logprob(std::span<const float> logits, int32_t id, int64_t top) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - mx));
  const double lse = mx + std::log(sum);
  TokenLogprob out;
  out.token = id;
  out.logprob = static_cast<float>(logits[static_cast<size_t>(id)] - lse);
  const auto k = static_cast<size_t>(std::min<int64_t>(top, static_cast<int64_t>(logits.size())));
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                    [&](int32_t a, int32_t b) {
                      const float la = logits[static_cast<size_t>(a)],
                                  lb = logits[static_cast<size_t>(b)];
                      return la > lb || (la == lb && a < b);
                    });
  for (size_t i = 0; i < k; ++i)
    out.top.emplace_back(ids[i], static_cast<float>(logits[static_cast<size_t>(ids[i])] - lse));
  return out;
}

bool Scheduler::take_token(Sequence& s, std::span<const float> logits) {
  const int32_t id = s.sampler.sample(logits);
  const auto now = Clock::now();
  if (s.generated.empty())
    metrics_.observe_first_token(std::chrono::duration<double>(now - s.request.arrived).count());
  else
    metrics_.observe_next_token(std::chrono::duration<double>(now - s.last_token).count());
  s.last_token = now;
  if (tok_.is_eos(id) && !s.request.ignore_eos) {
    finish(s, "stop");
    return false;
  }
  s.generated.push_back(id);
  metrics_.count_generated_token();
  StreamEvent e;
  e.choice = s.request.choice;
  e.text = s.text.push(id);
  e.token = id;
  if (s.request.top_logprobs >= 0) e.logprob = token_logprob(logits, id, s.request.top_logprobs);
  s.handle->push(std::move(e));
  if (s.text.stopped()) {
    finish(s, "stop");
    return false;
  }
  if (static_cast<int64_t>(s.generated.size()) >= s.request.max_tokens) {
    finish(s, "length");
    return false;
  }
  return true;
}

void Scheduler::finish(Sequence& s, const std::string& reason, const std::string& error) {
  StreamEvent e;
  e.choice = s.request.choice;
  if (reason != "error") e.text = s.text.finish();
  e.done = true;
  e.finish_reason = reason;
  e.error = error;
  e.prompt_tokens = static_cast<int64_t>(s.request.prompt.size());
  e.completion_tokens = static_cast<int64_t>(s.generated.size());
  s.session.reset();  // blocks back in the pool before the client hears the end
  s.handle->push(std::move(e));
}

}  // namespace gqa::serve

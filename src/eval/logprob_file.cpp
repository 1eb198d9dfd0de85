#include "eval/logprob_file.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace gqa::eval {

namespace fs = std::filesystem;

namespace {
constexpr char kMagic[8] = {'G', 'Q', 'A', 'L', 'O', 'G', 'P', '1'};
constexpr size_t kHeader = 8 + 4 + 4 + 8;
}  // namespace

LogprobWriter::LogprobWriter(const fs::path& path, int64_t vocab)
    : path_(path), tmp_(path.string() + ".tmp-" + std::to_string(::getpid())), vocab_(vocab) {
  out_ = std::make_unique<io::FileOutput>(tmp_);
  const uint32_t version = 1, v = static_cast<uint32_t>(vocab);
  const uint64_t rows = 0;
  out_->write(std::as_bytes(std::span(kMagic)));
  out_->write(std::as_bytes(std::span(&version, 1)));
  out_->write(std::as_bytes(std::span(&v, 1)));
  out_->write(std::as_bytes(std::span(&rows, 1)));
}

LogprobWriter::~LogprobWriter() {
  if (!done_) {
    out_.reset();
    std::error_code ec;
    fs::remove(tmp_, ec);
  }
}

void LogprobWriter::add(std::span<const float> logprobs, int32_t target) {
  out_->write(std::as_bytes(std::span(&target, 1)));
  out_->write(std::as_bytes(logprobs));
  ++rows_;
}

void LogprobWriter::finish() {
  out_->close();
  {
    std::fstream f(tmp_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(16);
    f.write(reinterpret_cast<const char*>(&rows_), 8);
    if (!f) fail(ErrorKind::kIo, tmp_.string() + ": cannot finish the log-prob file");
  }
  std::error_code ec;
  fs::rename(tmp_, path_, ec);
  if (ec) fail(ErrorKind::kIo, path_.string() + ": cannot write: " + ec.message());
  done_ = true;
}

KlComparer::KlComparer(const fs::path& path, int64_t vocab) : file_(path), vocab_(vocab) {
  const auto b = file_.bytes();
  if (b.size() < kHeader || std::memcmp(b.data(), kMagic, 8) != 0)
    fail(ErrorKind::kParse, path.string() + ": not a gqa log-prob file (from ppl --save-logits)");
  uint32_t version = 0, v = 0;
  std::memcpy(&version, b.data() + 8, 4);
  std::memcpy(&v, b.data() + 12, 4);
  std::memcpy(&rows_, b.data() + 16, 8);
  if (version != 1)
    fail(ErrorKind::kParse, path.string() + ": unknown version " + std::to_string(version));
  if (v != vocab)
    fail(ErrorKind::kInvalidArgument, path.string() + ": baseline vocabulary " + std::to_string(v) +
                                          " differs from the model's " + std::to_string(vocab));
  const uint64_t row_bytes = 4 + 4 * static_cast<uint64_t>(vocab);
  if (rows_ > (b.size() - kHeader) / row_bytes || kHeader + rows_ * row_bytes != b.size())
    fail(ErrorKind::kParse, path.string() + ": size does not match its row count (truncated?)");
}

void KlComparer::add(std::span<const float> logprobs, int32_t target) {
  if (next_ >= rows_)
    fail(ErrorKind::kInvalidArgument, file_.path().string() + ": the baseline has only " +
                                          std::to_string(rows_) + " positions; the texts differ");
  const std::byte* row =
      file_.bytes().data() + kHeader + next_ * (4 + 4 * static_cast<uint64_t>(vocab_));
  int32_t base_target = 0;
  std::memcpy(&base_target, row, 4);
  if (base_target != target)
    fail(ErrorKind::kInvalidArgument,
         file_.path().string() + ": position " + std::to_string(next_) + " scores token " +
             std::to_string(base_target) + ", this run " + std::to_string(target) +
             "; the texts or tokenizers differ");
  const auto* base = reinterpret_cast<const float*>(row + 4);
  double kl = 0;
  int64_t a = 0, b = 0;
  for (int64_t i = 0; i < vocab_; ++i) {
    const double lb = base[i];
    kl += std::exp(lb) * (lb - logprobs[static_cast<size_t>(i)]);
    if (base[i] > base[a]) a = i;
    if (logprobs[static_cast<size_t>(i)] > logprobs[static_cast<size_t>(b)]) b = i;
  }
  kl = std::max(kl, 0.0);
  r_.kl_sum += kl;
  r_.kl_max = std::max(r_.kl_max, kl);
  r_.base_nll_sum -= base[target];
  r_.top1_agree += a == b;
  ++r_.rows;
  ++next_;
}

KlResult KlComparer::finish() const {
  if (next_ != rows_)
    fail(ErrorKind::kInvalidArgument, file_.path().string() + ": the baseline has " +
                                          std::to_string(rows_) + " positions, this run " +
                                          std::to_string(next_) + "; the texts differ");
  return r_;
}

}  // namespace gqa::eval

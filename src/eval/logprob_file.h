#pragma once
// A baseline's per-position log-probabilities on disk (`gqa ppl --save-logits`), and KL
// divergence of another run against it (`--kld`).
//
// File: b"GQALOGP1", uint32 version (1), uint32 vocab, uint64 rows, then per row an int32 target
// and float32 log-probabilities[vocab]. Written to a temporary name and renamed at the end.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "core/mapped_file.h"
#include "io/file_output.h"

namespace gqa::eval {

class LogprobWriter {
 public:
  LogprobWriter(const std::filesystem::path& path, int64_t vocab);
  ~LogprobWriter();
  void add(std::span<const float> logprobs, int32_t target);
  void finish();  // patches the row count, renames into place

 private:
  std::filesystem::path path_, tmp_;
  int64_t vocab_;
  uint64_t rows_ = 0;
  std::unique_ptr<io::FileOutput> out_;
  bool done_ = false;
};

struct KlResult {
  int64_t rows = 0;
  double kl_sum = 0;  // sum over rows of KL(base || this)
  double kl_max = 0;
  double base_nll_sum = 0;  // the baseline's own -log p(target)
  int64_t top1_agree = 0;
  double kl_mean() const { return rows ? kl_sum / static_cast<double>(rows) : 0; }
};

class KlComparer {
 public:
  // Throws Error when the file is not a log-prob file or its vocabulary differs.
  KlComparer(const std::filesystem::path& path, int64_t vocab);
  // Compares the next row; throws when the file has no more rows or its target differs (the
  // texts or tokenizers differ).
  void add(std::span<const float> logprobs, int32_t target);
  // Throws when rows of the file were left over.
  KlResult finish() const;

 private:
  MappedFile file_;
  int64_t vocab_;
  uint64_t rows_ = 0, next_ = 0;
  KlResult r_;
};

}  // namespace gqa::eval

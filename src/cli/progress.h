#pragma once
// Progress of a long byte-counted job on stderr: a bar redrawn in place on a terminal, a line
// every few seconds otherwise (logs, CI). Silent for jobs that finish within a second.
#include <chrono>
#include <cstdint>
#include <string>

namespace gqa::cli {

class Progress {
 public:
  enum class Unit { kBytes, kTokens };
  Progress(std::string label, bool quiet = false, Unit unit = Unit::kBytes);
  // `detail` follows the counts (e.g. "loss 3.21"); an ETA ends the line.
  void update(uint64_t done, uint64_t total, const std::string& detail = {});
  // A line that stays (e.g. an evaluation result), printed above the bar.
  void note(const std::string& line);
  // Ends the bar's line (if one was drawn).
  void finish();
  double seconds() const;

 private:
  std::string label_;
  bool quiet_;
  Unit unit_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace gqa::cli

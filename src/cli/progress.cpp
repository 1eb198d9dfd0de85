#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "cli/human_format.h"
#include "core/hms.h"

namespace gqa::cli {

Progress::Progress(std::string label, bool quiet, Unit unit)
    : label_(std::move(label)),
      quiet_(quiet),
      unit_(unit),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(uint64_t done, uint64_t total, const std::string& detail) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_start = std::chrono::duration<double>(now - start_).count();
  const double since_last = std::chrono::duration<double>(now - last_).count();
  if (since_start < 1.0 || since_last < (tty_ ? 0.2 : 5.0)) return;
  last_ = now;
  const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const double rate = static_cast<double>(done) / since_start;
  auto amount = [&](double v) {
    return unit_ == Unit::kBytes ? format_bytes(static_cast<int64_t>(v))
                                 : format_grouped(static_cast<int64_t>(v)) + " tokens";
  };
  std::string text = fmt::format("{} {:3.0f}%  {} / {}  {}/s", label_, 100 * frac,
                                 amount(static_cast<double>(done)),
                                 amount(static_cast<double>(total)), amount(rate));
  if (!detail.empty()) text += "  " + detail;
  if (done > 0 && done < total) {
    const auto eta = static_cast<int64_t>(static_cast<double>(total - done) / rate);
    text += "  ETA " + format_hms(static_cast<double>(eta));
  }
  if (tty_) {
    const int width = 30;
    const int filled = static_cast<int>(frac * width);
    fmt::print(stderr, "\r[{}{}] {}\033[K", std::string(static_cast<size_t>(filled), '#'),
               std::string(static_cast<size_t>(width - filled), ' '), text);
    drawn_ = true;
  } else {
    fmt::print(stderr, "{}\n", text);
  }
}

void Progress::note(const std::string& line) {
  if (quiet_) return;
  if (drawn_) fmt::print(stderr, "\r\033[K");
  fmt::print(stderr, "{}\n", line);
  drawn_ = false;
}

void Progress::finish() {
  if (drawn_) fmt::print(stderr, "\n");
  drawn_ = false;
}

}  // namespace gqa::cli

#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace gqa::train {

double LrSchedule::at(int64_t step) const {
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const int64_t decay_steps = std::max<int64_t>(1, total - warmup - 1);
  const double t = std::clamp(static_cast<double>(step - warmup) / decay_steps, 0.0, 1.0);
  return min_lr + 0.5 * (peak - min_lr) * (1.0 + std::cos(std::numbers::pi * t));
}

}  // namespace gqa::train

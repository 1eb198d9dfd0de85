#pragma once
// Learning rate per optimizer step: linear warmup from 0 to the peak over `warmup` steps, then
// cosine decay to `min_lr` at the last step. Uptraining restarts the same shape over its own
// (shorter) run.
#include <cstdint>

namespace gqa::train {

struct LrSchedule {
  double peak = 3e-3;
  double min_lr = 3e-4;
  int64_t warmup = 0;  // steps
  int64_t total = 1;   // steps

  // step in [0, total): the rate for the update that step makes.
  double at(int64_t step) const;
};

}  // namespace gqa::train

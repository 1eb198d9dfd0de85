#pragma once
// Calibration for gqa convert --calib: runs a model over text with the native runtime and
// sums each layer's attention input (convert/calibration.h).
#include <cstdint>
#include <functional>
#include <vector>

#include "convert/calibration.h"
#include "model/model.h"

namespace gqa::eval {

// The first `max_tokens` of `tokens`, in windows of `window` tokens each run from an empty
// cache. `progress(done, total)` after each window.
convert::AttentionInputStats attention_input_stats(
    const model::Model& m, const std::vector<int32_t>& tokens, int64_t max_tokens, int64_t window,
    const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace gqa::eval

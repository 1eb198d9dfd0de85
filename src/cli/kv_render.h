#pragma once
// Human-readable text for the planner's report (`gqa kv` without --json).
#include <string>

#include "plan/kv_report.h"

namespace gqa::cli {

std::string render_kv_report(const plan::KvReport& report);
std::string render_preset_list();

}  // namespace gqa::cli

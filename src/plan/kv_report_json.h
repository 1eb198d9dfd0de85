#pragma once
// The planner's report as JSON for scripts (`gqa kv --json`) and GET /v1/plan, and the list of
// built-in presets (`gqa kv --list-presets --json`, GET /v1/presets). Field names are
// documented in the README.
#include <nlohmann/json.hpp>

#include "plan/kv_report.h"

namespace gqa::plan {

nlohmann::json to_json(const KvReport& report);
nlohmann::json presets_json();
// [{gpu, name, memory_bytes}] of plan::gpus().
nlohmann::json gpus_json();

}  // namespace gqa::plan

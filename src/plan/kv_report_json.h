#pragma once
// The planner's report as JSON for scripts (`gqa kv --json`) and, later, GET /v1/plan.
// Field names are documented in the README.
#include <nlohmann/json.hpp>

#include "plan/kv_report.h"

namespace gqa::plan {

nlohmann::json to_json(const KvReport& report);

}  // namespace gqa::plan

#pragma once
// The planner over HTTP, for the web page: GET /v1/plan answers with `gqa kv --json --sweep`'s
// object for the query, GET /v1/presets lists the built-in models. The page computes nothing:
// every number it shows comes from here.
//
// /v1/plan parameters (one of preset or config is required):
//   preset=llama-2-7b | config=<config.json text>   the model
//   kv_heads=N            a grouping (a divisor of the query heads); default the model's own
//   kv_dtype=f16          f32, f16, bf16, fp8, fp8-e5m2, int8, q8_0, q4_0
//   ctx=4096  users=N  memory=80GiB  weights_dtype=bf16  block_size=16
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace gqa::serve {

// Throws ApiError (400) naming the parameter that is missing, unknown or invalid.
nlohmann::json plan_query(const std::multimap<std::string, std::string>& params);
nlohmann::json preset_list();

}  // namespace gqa::serve

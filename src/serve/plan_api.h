#pragma once
// The planner over HTTP, for the web page: GET /v1/plan answers with `gqa kv --json --sweep`'s
// object for the query, GET /v1/presets lists the built-in models, GET /v1/gpus the GPUs. The
// page computes nothing: every number it shows comes from here.
//
// /v1/plan parameters (one of preset or config is required):
//   preset=llama-2-7b | config=<config.json text>   the model
//   kv_heads=N            a grouping (a divisor of the query heads); default the model's own
//   kv_dtype=f16          f32, f16, bf16, fp8, fp8-e5m2, int8, q8_0, q4_0
//   ctx=4096  users=N  block_size=16
//   memory=80GiB | gpu=h100-80gb   the memory of one GPU (gpu: see /v1/gpus)
//   tp=1                  GPUs the model is split over (tensor parallel)
//   overhead=10% | 2GiB   runtime overhead per GPU
//   weights_dtype=bf16    f32, f16, bf16, fp8, int8, q4_0, int4-g128
//   per_layer=1           the footprint of each layer (sliding windows)
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace gqa::serve {

// Throws ApiError (400) naming the parameter that is missing, unknown or invalid.
nlohmann::json plan_query(const std::multimap<std::string, std::string>& params);
nlohmann::json preset_list();
nlohmann::json gpu_list();

}  // namespace gqa::serve

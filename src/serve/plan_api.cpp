#include "serve/plan_api.h"

#include <charconv>
#include <set>

#include "config/hf_config.h"
#include "config/presets.h"
#include "core/byte_size.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/kv_dtype.h"
#include "plan/capacity.h"
#include "plan/gpus.h"
#include "plan/kv_report.h"
#include "plan/kv_report_json.h"
#include "serve/openai_api.h"

namespace gqa::serve {

using nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& message) {
  throw ApiError(400, message, "invalid_request_error", param);
}

int64_t integer(const std::string& name, const std::string& text) {
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size())
    bad(name, "'" + name + "' must be an integer, got '" + text + "'");
  return v;
}

}  // namespace

json plan_query(const std::multimap<std::string, std::string>& params) {
  static const std::set<std::string> known{
      "preset", "config",        "kv_heads",   "kv_dtype", "ctx",      "users",    "memory",
      "gpu",    "weights_dtype", "block_size", "tp",       "overhead", "per_layer"};
  for (const auto& [k, v] : params) {
    if (!known.contains(k)) bad(k, "unknown parameter '" + k + "'");
    if (params.count(k) > 1) bad(k, "parameter '" + k + "' is given more than once");
  }
  auto get = [&](const char* k) -> const std::string* {
    const auto it = params.find(k);
    return it == params.end() ? nullptr : &it->second;
  };
  // Every gqa::Error below names what is wrong; report it against the parameter being read.
  std::string param;
  try {
    plan::KvRequest r;
    const std::string* preset = get("preset");
    const std::string* config = get("config");
    if ((preset != nullptr) == (config != nullptr))
      bad(preset ? "config" : "preset", "give exactly one of 'preset' or 'config'");
    if (preset) {
      param = "preset";
      const Preset* p = find_preset(*preset);
      if (!p) bad("preset", "unknown preset '" + *preset + "' (see /v1/presets)");
      r.model = p->config;
    } else {
      param = "config";
      r.model = parse_hf_config(*config, "the pasted config.json");
    }
    if (const auto* v = get("kv_heads")) {
      param = "kv_heads";
      r.kv_heads = integer(param, *v);
    }
    if (const auto* v = get("kv_dtype")) {
      param = "kv_dtype";
      r.kv_dtype = parse_kv_dtype(*v);
    }
    if (const auto* v = get("ctx")) {
      param = "ctx";
      r.ctx = integer(param, *v);
    }
    if (const auto* v = get("users")) {
      param = "users";
      r.users = integer(param, *v);
    }
    if (const auto* v = get("block_size")) {
      param = "block_size";
      r.block_size = integer(param, *v);
    }
    if (const auto* v = get("memory"); v && !v->empty()) {
      param = "memory";
      r.memory_bytes = parse_byte_size(*v);
    }
    if (const auto* v = get("gpu"); v && !v->empty()) {
      param = "gpu";
      if (r.memory_bytes) bad("gpu", "give 'memory' or 'gpu', not both");
      const plan::Gpu* g = plan::find_gpu(*v);
      if (!g) bad("gpu", "unknown GPU '" + *v + "' (see /v1/gpus)");
      r.memory_bytes = g->memory_bytes;
    }
    if (const auto* v = get("tp")) {
      param = "tp";
      r.tp = integer(param, *v);
    }
    if (const auto* v = get("overhead"); v && !v->empty()) {
      param = "overhead";
      plan::parse_overhead(*v, r.overhead_bytes, r.overhead_fraction);
    }
    param = "weights_dtype";
    const std::string* wd = get("weights_dtype");
    r.weights = plan::parse_weights_format(wd && !wd->empty()             ? *wd
                                           : !r.model.torch_dtype.empty() ? r.model.torch_dtype
                                                                          : "bf16");
    if (const auto* v = get("per_layer")) r.per_layer = *v == "1" || *v == "true";
    r.sweep = true;
    param.clear();
    const plan::KvReport report = plan::make_report(r);
    json j = plan::to_json(report);
    json divisors = json::array();
    for (const auto& row : report.sweep) divisors.push_back(row.kv_heads);
    j["valid_kv_heads"] = divisors;
    return j;
  } catch (const Error& e) {
    // The planner names its inputs as gqa kv's flags; say the query's names instead.
    std::string msg = e.what();
    for (const auto& [flag, name] : {std::pair<std::string, std::string>{"--kv-heads", "kv_heads"},
                                     {"--ctx", "ctx"},
                                     {"--users", "users"},
                                     {"--memory", "memory"},
                                     {"--block-size", "block_size"},
                                     {"--weights-dtype", "weights_dtype"},
                                     {"--overhead", "overhead"},
                                     {"--tp", "tp"},
                                     {"--kv-dtype", "kv_dtype"}})
      for (size_t at; (at = msg.find(flag)) != std::string::npos;)
        msg.replace(at, flag.size(), name);
    bad(param, msg);
  }
}

json preset_list() {
  return plan::presets_json();
}

json gpu_list() {
  return plan::gpus_json();
}

}  // namespace gqa::serve

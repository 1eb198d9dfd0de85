#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "reproduce/experiment.h"

namespace gqa::reproduce {
namespace {

std::string fmt_alpha(double a) {
  return fmt::format("{:g}", a);
}  // "0", "0.05"

}  // namespace

std::string results_json(const Results& r) {
  using nlohmann::json;
  json variants = json::array();
  for (const auto& v : r.variants) {
    json ppl = json::object();
    for (const auto& [a, p] : v.ppl) ppl[fmt_alpha(a)] = p;
    variants.push_back({{"name", v.variant.name},
                        {"method", convert::pool_method_name(v.variant.method)},
                        {"grouping", convert::grouping_name(v.variant.grouping)},
                        {"calibrated", v.variant.calibrated},
                        {"kv_heads", v.variant.kv_heads},
                        {"kv_bytes_per_token_f16", v.kv_bytes_per_token},
                        {"compression", v.compression},
                        {"heldout_ppl_by_alpha", ppl},
                        {"decode_tokens_per_s", v.decode_tokens_per_s}});
  }
  json findings = json::array();
  for (const auto& f : r.findings)
    findings.push_back({{"claim", f.claim}, {"agrees", f.agrees}, {"detail", f.detail}});
  const json j = {{"base", r.base},
                  {"pretraining_tokens", r.pretraining_tokens},
                  {"eval_tokens", r.eval_tokens},
                  {"calibration_tokens", r.calib_tokens},
                  {"decode_depth", r.decode_depth},
                  {"alphas", r.alphas},
                  {"uptrain_peak_lr", r.uptrain_lr},
                  {"variants", variants},
                  {"findings", findings},
                  {"seconds", r.seconds}};
  return j.dump(2) + "\n";
}

}  // namespace gqa::reproduce

// gqa inspect: what a checkpoint holds and whether it matches its config.
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/human_format.h"
#include "cli/text_table.h"
#include "config/hf_config.h"
#include "config/tensor_check.h"
#include "core/dtype.h"
#include "io/checkpoint.h"
#include "io/safetensors_header.h"

namespace gqa::cli {
namespace {

struct InspectCli {
  std::string ckpt;
  bool json = false;
};

KvDtype kv_dtype_of_weights(const std::string& torch_dtype) {
  if (torch_dtype == "float32") return KvDtype::kF32;
  if (torch_dtype == "bfloat16") return KvDtype::kBF16;
  return KvDtype::kF16;
}

nlohmann::json config_json(const ModelConfig& m) {
  nlohmann::json j{{"architecture", std::string(architecture_name(m.arch))},
                   {"layers", m.layers},
                   {"heads", m.heads},
                   {"kv_heads", m.kv_heads},
                   {"head_dim", m.head_dim},
                   {"hidden", m.hidden},
                   {"intermediate", m.intermediate},
                   {"vocab", m.vocab},
                   {"rope_theta", m.rope_theta},
                   {"max_positions", m.max_positions},
                   {"tie_embeddings", m.tie_embeddings},
                   {"torch_dtype", m.torch_dtype}};
  if (m.sliding_window) j["sliding_window"] = *m.sliding_window;
  return j;
}

int run_inspect(const InspectCli& o) {
  const io::Checkpoint ck(o.ckpt);
  const ModelConfig m = parse_hf_config(ck.config_text(), (ck.dir() / "config.json").string());
  const TensorCheck check = check_tensors(ck.shapes(), m);
  int64_t params = 0;
  std::map<std::string, int64_t> bytes_by_dtype;
  for (const auto& e : ck.tensors()) {
    params += e.info->numel();
    bytes_by_dtype[std::string(dtype_name(e.info->dtype))] +=
        static_cast<int64_t>(e.info->nbytes());
  }
  const KvDtype kv_dtype = kv_dtype_of_weights(m.torch_dtype);

  if (o.json) {
    nlohmann::json j;
    j["checkpoint"] = o.ckpt;
    j["config"] = config_json(m);
    j["weight_files"] = nlohmann::json::array();
    for (const auto& f : ck.weight_files()) j["weight_files"].push_back(f.filename().string());
    j["tensors"] = nlohmann::json::array();
    for (const auto& e : ck.tensors())
      j["tensors"].push_back({{"name", e.info->name},
                              {"dtype", std::string(dtype_name(e.info->dtype))},
                              {"shape", e.info->shape},
                              {"bytes", e.info->nbytes()}});
    j["parameters"] = params;
    j["bytes"] = ck.total_bytes();
    j["kv_bytes_per_token"] = {
        {"f16", m.kv_bytes_per_token(KvDtype::kF16)},
        {std::string(kv_dtype_name(kv_dtype)), m.kv_bytes_per_token(kv_dtype)}};
    j["missing"] = check.missing;
    j["extra"] = check.extra;
    j["other_components"] = check.other.size();
    j["misshaped"] = nlohmann::json::array();
    for (const auto& b : check.misshaped)
      j["misshaped"].push_back({{"name", b.name}, {"expected", b.expected}, {"actual", b.actual}});
    j["ok"] = check.ok();
    std::cout << j.dump(2) << "\n";
    return check.ok() ? 0 : 2;
  }

  fmt::print("{}: {} ({})\n", o.ckpt, m.name.empty() ? ck.dir().filename().string() : m.name,
             architecture_name(m.arch));
  fmt::print("  {} layers, {} query heads, {} KV heads ({} per KV head), head_dim {}\n", m.layers,
             m.heads, m.kv_heads, m.n_rep(), m.head_dim);
  fmt::print("  hidden {}, intermediate {}, vocab {}, rope_theta {}, max positions {}{}\n",
             m.hidden, m.intermediate, m.vocab, m.rope_theta, m.max_positions,
             m.tie_embeddings ? ", tied embeddings" : "");
  fmt::print("  KV cache: {}/token in f16",
             format_bytes_small(m.kv_bytes_per_token(KvDtype::kF16)));
  if (kv_dtype != KvDtype::kF16)
    fmt::print(", {}/token in {}", format_bytes_small(m.kv_bytes_per_token(kv_dtype)),
               kv_dtype_name(kv_dtype));
  fmt::print("\n\n");
  TextTable t({TextTable::Align::kLeft, TextTable::Align::kLeft, TextTable::Align::kLeft,
               TextTable::Align::kRight});
  t.add_row({"tensor", "dtype", "shape", "bytes"});
  for (const auto& e : ck.tensors())
    t.add_row({e.info->name, std::string(dtype_name(e.info->dtype)), shape_string(e.info->shape),
               format_bytes(static_cast<int64_t>(e.info->nbytes()))});
  std::cout << t.render();
  std::string dtypes;
  for (const auto& [d, b] : bytes_by_dtype)
    dtypes += (dtypes.empty() ? "" : ", ") + d + " " + format_bytes(b);
  fmt::print("\n{} tensors in {} file{}, {} parameters ({}), {}\n", ck.tensors().size(),
             ck.weight_files().size(), ck.weight_files().size() == 1 ? "" : "s",
             format_grouped(params), format_params(params), dtypes);
  if (!check.other.empty())
    fmt::print("{} tensors of other components (not the language model)\n", check.other.size());
  for (const auto& n : check.missing) fmt::print("MISSING   {}\n", n);
  for (const auto& b : check.misshaped)
    fmt::print("MISSHAPED {}: {} where the config implies {}\n", b.name, shape_string(b.actual),
               shape_string(b.expected));
  for (const auto& n : check.extra) fmt::print("EXTRA     {}\n", n);
  if (check.ok())
    fmt::print("check: every tensor the config implies is present with its shape{}\n",
               check.extra.empty() ? "" : " (and some extra)");
  else
    fmt::print("check: FAILED ({} missing, {} mis-shaped)\n", check.missing.size(),
               check.misshaped.size());
  return check.ok() ? 0 : 2;
}

}  // namespace

Command add_inspect_command(CLI::App& root) {
  auto o = std::make_shared<InspectCli>();
  CLI::App* cmd = root.add_subcommand(
      "inspect", "Show a checkpoint's config, tensors, parameters and KV cost; check its tensors");
  cmd->add_option("ckpt", o->ckpt, "Checkpoint folder")->required();
  cmd->add_flag("--json", o->json, "One JSON object for scripts");
  cmd->footer(
      "\nExit code 0 when every tensor the config implies is present with its shape, 2 "
      "when some are missing or mis-shaped (or the checkpoint cannot be read).\n");
  return {cmd, [o] { return run_inspect(*o); }};
}

}  // namespace gqa::cli

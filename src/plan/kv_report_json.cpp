#include "plan/kv_report_json.h"

#include <string>

#include "config/presets.h"
#include "core/dtype.h"
#include "plan/gpus.h"

namespace gqa::plan {
namespace {

using nlohmann::json;

json row_json(const KvReport& rep, const KvRow& row) {
  const KvRequest& r = rep.request;
  json j;
  j["kv_heads"] = row.kv_heads;
  j["n_rep"] = row.n_rep;
  j["grouping"] = grouping_name(row.kv_heads, rep.model.heads);
  j["kv_bytes_per_token"] = row.footprint.bytes_per_token;
  j["kv_bytes_at_ctx"] = row.footprint.bytes_at_ctx;
  j["kv_bytes_at_ctx_paged"] = row.footprint.bytes_at_ctx_paged;
  j["mha_kv_bytes_per_token"] = rep.mha.footprint.bytes_per_token;
  j["mha_kv_bytes_at_ctx"] = rep.mha.footprint.bytes_at_ctx;
  j["compression"] = row.compression;
  j["compression_vs_mha_f16"] = row.compression_vs_mha_f16;
  j["tp_even_split"] = row.tp_even;
  if (row.bytes_total) {
    j["users"] = *r.users;
    j["kv_bytes_total"] = *row.bytes_total;
  }
  if (row.capacity) {
    const Capacity& c = *row.capacity;
    j["memory_bytes"] = c.memory_bytes;
    j["weights_dtype"] = r.weights.name;
    j["weights_bits_per_weight"] = r.weights.bits_per_weight;
    j["parameters"] = c.parameters;
    j["weights_bytes"] = c.weights_bytes;
    j["tp"] = c.tp;
    j["gpu_weights_bytes"] = c.gpu_weights_bytes;
    j["kv_heads_per_gpu"] = c.kv_heads_per_gpu;
    j["kv_head_replicas"] = c.kv_head_replicas;
    j["gpu_kv_bytes_per_token"] = c.gpu_kv_bytes_per_token;
    j["overhead_bytes"] = c.overhead_bytes;
    j["weights_fit"] = c.weights_fit;
    j["kv_bytes_available"] = c.available_bytes;
    j["block_bytes"] = c.block_bytes;
    j["blocks"] = c.blocks;
    j["blocks_per_session"] = c.blocks_per_session;
    j["layer_blocks"] = c.layer_blocks;
    j["layer_blocks_per_session"] = c.layer_blocks_per_session;
    j["sessions_fit"] = c.sessions;
    if (c.fits) {
      j["gpu_bytes_needed"] = *c.gpu_bytes_needed;
      j["fits"] = *c.fits;
      j["max_ctx"] = *c.max_ctx;
    }
  }
  return j;
}

}  // namespace

json to_json(const KvReport& rep) {
  const KvRequest& r = rep.request;
  const ModelConfig& m = rep.model;
  json j;
  j["model"] = m.name;
  j["architecture"] = std::string(architecture_name(m.arch));
  j["layers"] = m.layers;
  j["heads"] = m.heads;
  j["model_kv_heads"] = r.model.kv_heads;
  j["head_dim"] = m.head_dim;
  j["kv_dtype"] = std::string(kv_dtype_name(r.kv_dtype));
  j["kv_bits_per_value"] = kv_bits_per_value(r.kv_dtype, m.head_dim);
  j["ctx"] = r.ctx;
  j["block_size"] = r.block_size;
  if (m.sliding_window) j["sliding_window"] = *m.sliding_window;
  j.update(row_json(rep, rep.current));
  if (r.sweep) {
    json rows = json::array();
    for (const auto& row : rep.sweep) rows.push_back(row_json(rep, row));
    j["rows"] = rows;
  }
  if (r.per_layer) {
    json layers = json::array();
    for (const auto& f : rep.layers)
      layers.push_back({{"layer", f.layer},
                        {"attention", f.attention == LayerAttention::kSliding ? "sliding" : "full"},
                        {"tokens_held", f.tokens_held},
                        {"blocks", f.blocks},
                        {"kv_bytes_per_token", f.bytes_per_token},
                        {"kv_bytes_at_ctx", f.bytes_at_ctx}});
    j["per_layer"] = layers;
  }
  return j;
}

json presets_json() {
  json arr = json::array();
  for (const Preset& p : presets())
    arr.push_back({{"preset", p.key},
                   {"model", p.display},
                   {"source", p.hf_repo},
                   {"layers", p.config.layers},
                   {"heads", p.config.heads},
                   {"kv_heads", p.config.kv_heads},
                   {"head_dim", p.config.head_dim},
                   {"kv_bytes_per_token_f16", p.config.kv_bytes_per_token(KvDtype::kF16)}});
  return arr;
}

json gpus_json() {
  json arr = json::array();
  for (const Gpu& g : gpus())
    arr.push_back({{"gpu", g.key}, {"name", g.display}, {"memory_bytes", g.memory_bytes}});
  return arr;
}

}  // namespace gqa::plan

#include "plan/kv_report.h"

#include <string>

#include "core/checked_math.h"
#include "core/error.h"

namespace gqa::plan {
namespace {

constexpr int64_t kMaxUsers = 1'000'000'000;

KvRow make_row(const ModelConfig& grouped, const KvRequest& r, const KvFootprint& mha,
               int64_t mha_f16_per_token) {
  KvRow row;
  row.kv_heads = grouped.kv_heads;
  row.n_rep = grouped.n_rep();
  row.footprint = kv_footprint(grouped, r.kv_dtype, r.ctx, r.block_size);
  const auto per_token = static_cast<double>(row.footprint.bytes_per_token);
  row.compression = static_cast<double>(mha.bytes_per_token) / per_token;
  row.compression_vs_mha_f16 = static_cast<double>(mha_f16_per_token) / per_token;
  if (r.users) row.bytes_total = checked_mul(*r.users, row.footprint.bytes_at_ctx, "KV total");
  // Other groupings than the one asked about may not split over r.tp: they get no capacity.
  if (r.memory_bytes && tp_splits(grouped.kv_heads, r.tp))
    row.capacity = capacity(grouped, r.kv_dtype, r.ctx, r.block_size,
                            {.memory_bytes = *r.memory_bytes,
                             .weights = r.weights,
                             .weights_bytes = r.weights_bytes,
                             .tp = r.tp,
                             .overhead_bytes = r.overhead_bytes,
                             .overhead_fraction = r.overhead_fraction,
                             .users = r.users});
  for (int64_t tp = 1; tp <= 16; tp *= 2)
    if (grouped.kv_heads % tp == 0) row.tp_even.push_back(tp);
  return row;
}

}  // namespace

std::string grouping_name(int64_t kv_heads, int64_t heads) {
  if (kv_heads == heads) return "MHA";
  if (kv_heads == 1) return "MQA";
  return "GQA-" + std::to_string(kv_heads);
}

KvReport make_report(const KvRequest& r) {
  r.model.validate();
  check_ctx_and_block(r.ctx, r.block_size);
  if (r.users && (*r.users <= 0 || *r.users > kMaxUsers))
    fail(ErrorKind::kInvalidArgument, "--users must be between 1 and " + std::to_string(kMaxUsers) +
                                          ", got " + std::to_string(*r.users));
  if (r.memory_bytes && *r.memory_bytes <= 0)
    fail(ErrorKind::kInvalidArgument, "--memory must be positive");

  KvReport rep;
  rep.request = r;
  rep.model = r.kv_heads ? r.model.regrouped(*r.kv_heads) : r.model;
  const ModelConfig mha_model = r.model.regrouped(r.model.heads);
  const KvFootprint mha = kv_footprint(mha_model, r.kv_dtype, r.ctx, r.block_size);
  const int64_t mha_f16 = mha_model.kv_bytes_per_token(KvDtype::kF16);
  if (r.memory_bytes) check_tp(rep.model.kv_heads, r.tp);  // the grouping asked about
  rep.mha = make_row(mha_model, r, mha, mha_f16);
  rep.current = make_row(rep.model, r, mha, mha_f16);
  if (r.sweep)
    for (int64_t g : valid_kv_head_counts(r.model.heads))
      rep.sweep.push_back(make_row(r.model.regrouped(g), r, mha, mha_f16));
  if (r.per_layer) rep.layers = layer_footprints(rep.model, r.kv_dtype, r.ctx, r.block_size);
  return rep;
}

}  // namespace gqa::plan

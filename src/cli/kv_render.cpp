#include "cli/kv_render.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "cli/human_format.h"
#include "cli/text_table.h"
#include "config/presets.h"
#include "core/dtype.h"

namespace gqa::cli {
namespace {

using Align = TextTable::Align;
using plan::KvReport;
using plan::KvRow;

std::string header(const KvReport& rep) {
  const ModelConfig& m = rep.model;
  const plan::KvRequest& r = rep.request;
  std::string s =
      fmt::format("{}: {} layers, {} query heads, head_dim {} ({} KV heads as published)\n", m.name,
                  m.layers, m.heads, m.head_dim, r.model.kv_heads);
  s += fmt::format("KV cache in {}, context {} tokens, paged in blocks of {} tokens\n",
                   kv_dtype_description(r.kv_dtype), r.ctx, r.block_size);
  const auto sliding =
      std::count(m.layer_types.begin(), m.layer_types.end(), LayerAttention::kSliding);
  if (sliding > 0)
    s += fmt::format("Sliding-window attention: {} of {} layers keep min(ctx, {}) tokens\n",
                     sliding, m.layers, *m.sliding_window);
  return s;
}

std::string users_label(const KvReport& rep) {
  return fmt::format("{} users at {} tokens", *rep.request.users, rep.request.ctx);
}

std::string sessions_cell(const KvRow& row) {
  if (!row.capacity) return "- (TP cannot split)";
  if (!row.capacity->weights_fit) return "0 (weights too big)";
  return format_grouped(row.capacity->sessions);
}

std::string tp_list(const std::vector<int64_t>& tp) {
  std::string s;
  for (int64_t t : tp) s += (s.empty() ? "" : ", ") + std::to_string(t);
  return s;
}

std::string capacity_note(const KvReport& rep, const KvRow& row) {
  const plan::Capacity& c = *row.capacity;
  const plan::KvRequest& r = rep.request;
  std::string weights =
      c.parameters > 0 && !r.weights_bytes
          ? fmt::format("weights {} ({} parameters in {})", format_bytes(c.weights_bytes),
                        format_params(c.parameters), r.weights.name)
          : fmt::format("weights {} (as given)", format_bytes(c.weights_bytes));
  std::string s;
  if (c.tp > 1) {
    s += fmt::format(
        "Tensor parallel over {} GPUs: each holds {} of the weights and {} KV head{}{}\n", c.tp,
        format_bytes(c.gpu_weights_bytes), c.kv_heads_per_gpu, c.kv_heads_per_gpu == 1 ? "" : "s",
        c.kv_head_replicas > 1
            ? fmt::format(" (each KV head replicated on {} GPUs: a head cannot be split)",
                          c.kv_head_replicas)
            : "");
    weights = fmt::format("its share of the {}", weights);
  }
  const std::string per = c.tp > 1 ? " per GPU" : "";
  const std::string overhead =
      c.overhead_bytes > 0 ? fmt::format(" - overhead {}", format_bytes(c.overhead_bytes)) : "";
  if (!c.weights_fit)
    return s + fmt::format("Memory {}{}: {}{} do not fit; no sessions.\n",
                           format_bytes(c.memory_bytes), per, weights, overhead);
  s += fmt::format("Memory {}{} - {}{} = {} for KV:\n", format_bytes(c.memory_bytes), per, weights,
                   overhead, format_bytes(c.available_bytes));
  s += fmt::format("  {} blocks of {} tokens ({} each), {} blocks per session of {} tokens\n",
                   format_grouped(c.blocks), rep.request.block_size, format_bytes(c.block_bytes),
                   c.blocks_per_session, rep.request.ctx);
  if (c.layer_blocks_per_session != c.blocks_per_session * rep.model.layers)
    s += fmt::format("  sliding layers need fewer: {} layer blocks per session of {} in the pool\n",
                     c.layer_blocks_per_session, format_grouped(c.layer_blocks));
  if (c.fits)
    s += fmt::format(
        "{}: {} users at {} tokens need {}{} of {}; each of them could have up to {} tokens, "
        "and {} users fit at {} tokens\n",
        *c.fits ? "FITS" : "DOES NOT FIT", *r.users, r.ctx, format_bytes(*c.gpu_bytes_needed), per,
        format_bytes(c.memory_bytes), format_grouped(*c.max_ctx), format_grouped(c.sessions),
        r.ctx);
  return s;
}

std::string render_single(const KvReport& rep) {
  const int64_t H = rep.model.heads;
  const KvRow& mha = rep.mha;
  const KvRow& cur = rep.current;
  const plan::KvRequest& r = rep.request;
  TextTable t({Align::kLeft, Align::kRight, Align::kRight});
  t.add_row({"", "MHA (baseline)", plan::grouping_name(cur.kv_heads, H) + " (current)"});
  t.add_row({"KV heads", std::to_string(mha.kv_heads), std::to_string(cur.kv_heads)});
  t.add_row({"query heads per KV head", std::to_string(mha.n_rep), std::to_string(cur.n_rep)});
  t.add_row({"KV / token", format_bytes_small(mha.footprint.bytes_per_token),
             format_bytes_small(cur.footprint.bytes_per_token)});
  t.add_row({"  bytes / token", format_grouped(mha.footprint.bytes_per_token),
             format_grouped(cur.footprint.bytes_per_token)});
  t.add_row({fmt::format("KV at {} tokens", r.ctx), format_bytes(mha.footprint.bytes_at_ctx),
             format_bytes(cur.footprint.bytes_at_ctx)});
  if (cur.footprint.bytes_at_ctx_paged != cur.footprint.bytes_at_ctx)
    t.add_row({"  in whole blocks", format_bytes(mha.footprint.bytes_at_ctx_paged),
               format_bytes(cur.footprint.bytes_at_ctx_paged)});
  t.add_row({"compression vs MHA", format_ratio(mha.compression), format_ratio(cur.compression)});
  if (r.kv_dtype != KvDtype::kF16)
    t.add_row({"  vs MHA in f16", format_ratio(mha.compression_vs_mha_f16),
               format_ratio(cur.compression_vs_mha_f16)});
  if (r.users)
    t.add_row({users_label(rep), format_bytes(*mha.bytes_total), format_bytes(*cur.bytes_total)});
  if (r.memory_bytes)
    t.add_row({fmt::format("sessions in {}", format_bytes(*r.memory_bytes)), sessions_cell(mha),
               sessions_cell(cur)});
  std::string s = header(rep) + "\n" + t.render() + "\n";
  if (r.memory_bytes) s += capacity_note(rep, cur);
  s += fmt::format("Tensor parallel: {} KV heads split evenly at TP {}\n", cur.kv_heads,
                   tp_list(cur.tp_even));
  return s;
}

std::string render_sweep(const KvReport& rep) {
  const plan::KvRequest& r = rep.request;
  std::vector<Align> align{Align::kRight, Align::kLeft,  Align::kRight,
                           Align::kRight, Align::kRight, Align::kRight};
  std::vector<std::string> head{
      "KV heads", "grouping", "q/KV", "KV/token", fmt::format("KV at {}", r.ctx), "compression"};
  if (r.users) {
    align.push_back(Align::kRight);
    head.push_back(users_label(rep));
  }
  if (r.memory_bytes) {
    align.push_back(Align::kRight);
    head.push_back(fmt::format("sessions in {}", format_bytes(*r.memory_bytes)));
  }
  align.push_back(Align::kLeft);
  head.emplace_back("");
  TextTable t(align);
  t.add_row(head);
  for (const KvRow& row : rep.sweep) {
    std::vector<std::string> cells{std::to_string(row.kv_heads),
                                   plan::grouping_name(row.kv_heads, rep.model.heads),
                                   std::to_string(row.n_rep),
                                   format_bytes_small(row.footprint.bytes_per_token),
                                   format_bytes(row.footprint.bytes_at_ctx),
                                   format_ratio(row.compression)};
    if (r.users) cells.push_back(format_bytes(*row.bytes_total));
    if (r.memory_bytes) cells.push_back(sessions_cell(row));
    cells.emplace_back(row.kv_heads == rep.current.kv_heads ? "<- current" : "");
    t.add_row(cells);
  }
  std::string s = header(rep) + "\n" + t.render();
  if (r.memory_bytes) s += '\n' + capacity_note(rep, rep.current);
  return s;
}

std::string render_layers(const KvReport& rep) {
  TextTable t({Align::kRight, Align::kLeft, Align::kRight, Align::kRight, Align::kRight});
  t.add_row({"layer", "attention", "tokens held", "blocks", "KV at ctx"});
  for (const auto& f : rep.layers)
    t.add_row(
        {std::to_string(f.layer), f.attention == LayerAttention::kSliding ? "sliding" : "full",
         std::to_string(f.tokens_held), std::to_string(f.blocks), format_bytes(f.bytes_at_ctx)});
  return "\nPer layer (" + plan::grouping_name(rep.current.kv_heads, rep.model.heads) + "):\n" +
         t.render();
}

}  // namespace

std::string render_kv_report(const KvReport& rep) {
  std::string s = rep.request.sweep ? render_sweep(rep) : render_single(rep);
  if (rep.request.per_layer) s += render_layers(rep);
  return s;
}

std::string render_preset_list() {
  TextTable t({Align::kLeft, Align::kLeft, Align::kRight, Align::kRight, Align::kRight,
               Align::kRight, Align::kRight});
  t.add_row({"preset", "model", "L", "H", "h_kv", "d_h", "f16 KV B/token"});
  for (const auto& p : presets())
    t.add_row({p.key, p.display, std::to_string(p.config.layers), std::to_string(p.config.heads),
               std::to_string(p.config.kv_heads), std::to_string(p.config.head_dim),
               std::to_string(p.config.kv_bytes_per_token(KvDtype::kF16))});
  return t.render();
}

}  // namespace gqa::cli

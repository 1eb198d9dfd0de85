#include "convert/converter.h"

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/hf_config.h"
#include "config/hf_config_writer.h"
#include "config/tensor_check.h"
#include "config/tensor_names.h"
#include "convert/layer_rewrite.h"
#include "convert/pooling.h"
#include "core/error.h"
#include "core/float_codec.h"
#include "core/random.h"
#include "io/checkpoint.h"
#include "io/file_output.h"
#include "io/output_folder.h"
#include "io/safetensors_header.h"
#include "io/weights_writer.h"

#ifndef GQA_VERSION
#define GQA_VERSION "0.0.0"
#endif

namespace gqa::convert {
namespace {

namespace fs = std::filesystem;

struct TensorJob {
  const io::Checkpoint::Entry* entry;
  TensorRole role;
  int64_t layer;  // -1 outside the decoder layers
  DType out_dtype;
  std::vector<int64_t> out_shape;
};

bool is_attention(TensorRole r) {
  return r != TensorRole::kOther;
}

// Rewritten layers (svd, similar grouping), computed when the first of a layer's attention
// tensors is written and dropped after its last, so at most a layer or two are held.
class LayerCache {
 public:
  LayerCache(const io::Checkpoint& ck, const ModelConfig& m, const GroupPlan& plan,
             const ConvertOptions& o, const std::vector<TensorJob>& jobs)
      : ck_(ck), m_(m), plan_(plan), o_(o) {
    for (const auto& j : jobs)
      if (is_attention(j.role)) {
        entries_[j.layer][j.role] = j.entry;
        ++pending_[j.layer];
      }
  }

  const RewrittenAttention& get(int64_t layer) {
    auto it = done_.find(layer);
    if (it != done_.end()) return it->second;
    const auto& e = entries_.at(layer);
    auto view = [&](TensorRole r) { return ck_.view(*e.at(r)); };
    auto matrix = [](const io::TensorView& v, int64_t first_row, int64_t rows) {
      const int64_t cols = v.shape.size() > 1 ? v.shape[1] : 1;
      return MatrixView{v.data.data() + first_row * cols * dtype_size(v.dtype), v.dtype, rows,
                        cols};
    };
    const int64_t qd = m_.q_dim(), kvd = m_.kv_dim();
    StoredAttention s;
    if (e.count(TensorRole::kQkvFused)) {
      const io::TensorView qkv = view(TensorRole::kQkvFused);
      s.q = matrix(qkv, 0, qd);
      s.k = matrix(qkv, qd, kvd);
      s.v = matrix(qkv, qd + kvd, kvd);
    } else {
      s.q = matrix(view(TensorRole::kQProj), 0, qd);
      s.k = matrix(view(TensorRole::kKProj), 0, kvd);
      s.v = matrix(view(TensorRole::kVProj), 0, kvd);
    }
    s.o = matrix(view(TensorRole::kOProj), 0, m_.hidden);
    if (e.count(TensorRole::kQBias)) {
      s.q_bias = matrix(view(TensorRole::kQBias), 0, qd);
      s.k_bias = matrix(view(TensorRole::kKBias), 0, kvd);
      s.v_bias = matrix(view(TensorRole::kVBias), 0, kvd);
    }
    InputMoment moment;
    LayerConversion how{o_.method, o_.grouping, m_.rotary_dim(), nullptr};
    if (o_.calibration) {
      moment = o_.calibration->moment(layer);
      how.moment = &moment;
    }
    const RewrittenAttention& r =
        done_
            .emplace(layer, rewrite_attention(load_attention(s, m_.heads, m_.kv_heads, m_.head_dim),
                                              plan_, how))
            .first->second;
    orders_[layer] = r.order;
    return r;
  }

  // After a tensor of `layer` is written: drops the layer after its last.
  void written(int64_t layer) {
    if (--pending_[layer] == 0) {
      done_.erase(layer);
      for (const auto& [role, entry] : entries_.at(layer)) ck_.release(*entry);
    }
  }

  // Per layer, the source KV heads in group order.
  const std::map<int64_t, std::vector<int64_t>>& orders() const { return orders_; }

 private:
  const io::Checkpoint& ck_;
  const ModelConfig& m_;
  const GroupPlan& plan_;
  const ConvertOptions& o_;
  std::map<int64_t, std::map<TensorRole, const io::Checkpoint::Entry*>> entries_;
  std::map<int64_t, int64_t> pending_;
  std::map<int64_t, RewrittenAttention> done_;
  std::map<int64_t, std::vector<int64_t>> orders_;
};

// Rows [first_row, first_row + rows) of `m`, columns [0, cols), as out_dtype rows.
void emit_rows(const Eigen::MatrixXd& m, int64_t first_row, int64_t rows, int64_t cols,
               DType out_dtype, const RowSink& sink) {
  std::vector<float> row(static_cast<size_t>(cols));
  std::vector<std::byte> out(row.size() * static_cast<size_t>(dtype_size(out_dtype)));
  for (int64_t r = first_row; r < first_row + rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) row[static_cast<size_t>(c)] = static_cast<float>(m(r, c));
    encode_from_f32(out_dtype, row.data(), cols, out.data());
    sink(out);
  }
}

// The bias column (the last) of `m` as one out_dtype vector.
void emit_bias(const Eigen::MatrixXd& m, DType out_dtype, const RowSink& sink) {
  std::vector<float> col(static_cast<size_t>(m.rows()));
  for (int64_t r = 0; r < m.rows(); ++r)
    col[static_cast<size_t>(r)] = static_cast<float>(m(r, m.cols() - 1));
  std::vector<std::byte> out(col.size() * static_cast<size_t>(dtype_size(out_dtype)));
  encode_from_f32(out_dtype, col.data(), m.rows(), out.data());
  sink(out);
}

bool is_inside(const fs::path& child, const fs::path& parent) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(child, ec);
  const fs::path p = fs::weakly_canonical(parent, ec);
  auto ci = c.begin();
  for (auto pi = p.begin(); pi != p.end(); ++pi, ++ci)
    if (ci == c.end() || *ci != *pi) return false;
  return true;
}

// Checks every tensor the config implies is there with its shape, and finds each one's role.
std::vector<TensorJob> plan_jobs(const io::Checkpoint& ck, const ModelConfig& m,
                                 const GroupPlan& plan, const ConvertOptions& o) {
  const TensorCheck check = check_tensors(ck.shapes(), m);
  if (!check.ok()) fail(ErrorKind::kParse, check.first_problem(ck.dir().string()));
  std::map<std::string, const ExpectedTensor*> expected;
  for (const auto& t : check.expected) expected[t.name] = &t;
  const int64_t q_dim = m.q_dim(), kv_out = plan.target_kv_heads * m.head_dim;
  std::vector<TensorJob> jobs;
  for (const auto& e : ck.tensors()) {
    const auto it = expected.find(e.info->name);
    TensorJob job{&e, it == expected.end() ? TensorRole::kOther : it->second->role,
                  it == expected.end() ? -1 : it->second->layer, e.info->dtype, e.info->shape};
    const bool is_float = is_float_weight_dtype(e.info->dtype);
    if (o.dtype && is_float) job.out_dtype = *o.dtype;
    switch (job.role) {
      case TensorRole::kKProj:
      case TensorRole::kVProj:
      case TensorRole::kKBias:
      case TensorRole::kVBias:
        job.out_shape[0] = kv_out;
        break;
      case TensorRole::kQkvFused:
        job.out_shape[0] = q_dim + 2 * kv_out;
        break;
      case TensorRole::kQProj:
      case TensorRole::kQBias:
      case TensorRole::kOProj:
      case TensorRole::kOther:
        break;
    }
    if (is_attention(job.role) && !is_float)
      fail(ErrorKind::kUnsupported, ck.dir().string() + ": tensor '" + e.info->name + "' is " +
                                        std::string(dtype_name(e.info->dtype)) +
                                        "; pooling needs f32, f16 or bf16 weights");
    if (o.dtype && !is_float && e.info->dtype != DType::kI32 && e.info->dtype != DType::kI64 &&
        e.info->dtype != DType::kU8 && e.info->dtype != DType::kI8)
      fail(ErrorKind::kUnsupported, ck.dir().string() + ": tensor '" + e.info->name + "' is " +
                                        std::string(dtype_name(e.info->dtype)) +
                                        " and cannot be converted with --dtype");
    jobs.push_back(std::move(job));
  }
  return jobs;
}

// A tensor of a rewritten layer.
void run_layer_job(const TensorJob& job, const GroupPlan& plan, int64_t q_dim, LayerCache& layers,
                   io::WeightsWriter& out) {
  const std::string& name = job.entry->info->name;
  const RowSink sink = [&](std::span<const std::byte> b) { out.write(name, b); };
  const AttentionWeights& w = layers.get(job.layer).w;
  const int64_t kv_rows = plan.target_kv_heads * plan.head_dim;
  switch (job.role) {
    case TensorRole::kQProj:
      emit_rows(w.q, 0, q_dim, w.hidden, job.out_dtype, sink);
      break;
    case TensorRole::kKProj:
      emit_rows(w.k, 0, kv_rows, w.hidden, job.out_dtype, sink);
      break;
    case TensorRole::kVProj:
      emit_rows(w.v, 0, kv_rows, w.hidden, job.out_dtype, sink);
      break;
    case TensorRole::kQkvFused:
      emit_rows(w.q, 0, q_dim, w.hidden, job.out_dtype, sink);
      emit_rows(w.k, 0, kv_rows, w.hidden, job.out_dtype, sink);
      emit_rows(w.v, 0, kv_rows, w.hidden, job.out_dtype, sink);
      break;
    case TensorRole::kOProj:
      emit_rows(w.o, 0, w.o.rows(), w.o.cols(), job.out_dtype, sink);
      break;
    case TensorRole::kQBias:
      emit_bias(w.q, job.out_dtype, sink);
      break;
    case TensorRole::kKBias:
      emit_bias(w.k, job.out_dtype, sink);
      break;
    case TensorRole::kVBias:
      emit_bias(w.v, job.out_dtype, sink);
      break;
    case TensorRole::kOther:
      break;
  }
  layers.written(job.layer);
}

void run_job(const io::Checkpoint& ck, const TensorJob& job, const GroupPlan& plan,
             const ConvertOptions& o, int64_t q_dim, uint64_t tensor_index,
             io::WeightsWriter& out) {
  const io::TensorView v = ck.view(*job.entry);
  const std::string& name = v.name;
  // A row is everything past the first dimension. Shapes with a 0 (allowed by safetensors)
  // hold no bytes: nothing to copy, and nothing to divide by.
  if (v.numel() == 0) {
    out.write(name, {});
    return;
  }
  int64_t cols = 1;
  for (size_t i = 1; i < v.shape.size(); ++i) cols *= v.shape[i];
  const int64_t row_bytes = cols * dtype_size(v.dtype);
  const RowSink sink = [&](std::span<const std::byte> b) { out.write(name, b); };
  Rng rng(derive_seed(o.seed, tensor_index));
  // Same grouping and same dtype: bytes pass through untouched (byte-identical output).
  const bool identity = plan.group_size() == 1 && o.method != PoolMethod::kRandom;
  auto pool = [&](int64_t first_row, int64_t rows) {
    const RowBlock block{v.data.data() + first_row * row_bytes, v.dtype, rows, cols};
    if (identity)
      copy_rows(block, job.out_dtype, sink);
    else
      pool_rows(block, plan, o.method, job.out_dtype, rng, sink);
  };
  const int64_t kv_rows = plan.source_kv_heads * plan.head_dim;
  switch (job.role) {
    case TensorRole::kOther:
    case TensorRole::kQProj:
    case TensorRole::kQBias:
    case TensorRole::kOProj:
      copy_rows({v.data.data(), v.dtype, v.numel() / cols, cols}, job.out_dtype, sink);
      break;
    case TensorRole::kKProj:
    case TensorRole::kVProj:
    case TensorRole::kKBias:
    case TensorRole::kVBias:
      pool(0, kv_rows);
      break;
    case TensorRole::kQkvFused:
      copy_rows({v.data.data(), v.dtype, q_dim, cols}, job.out_dtype, sink);
      pool(q_dim, kv_rows);
      pool(q_dim + kv_rows, kv_rows);
      break;
  }
  ck.release(*job.entry);
}

std::string conversion_record(const fs::path& src, const ModelConfig& m, const GroupPlan& plan,
                              const ConvertOptions& o,
                              const std::map<int64_t, std::vector<int64_t>>& orders) {
  nlohmann::ordered_json j;
  j["tool"] = "gqa";
  j["tool_version"] = GQA_VERSION;
  j["source"] = fs::weakly_canonical(src).string();
  j["method"] = pool_method_name(o.method);
  j["grouping"] = grouping_name(o.grouping);
  j["calibration_tokens"] =
      o.calibration ? nlohmann::ordered_json(o.calibration->tokens(0)) : nlohmann::ordered_json();
  j["source_kv_heads"] = plan.source_kv_heads;
  j["kv_heads"] = plan.target_kv_heads;
  j["query_heads"] = m.heads;
  j["group_size"] = plan.group_size();
  nlohmann::ordered_json groups = nlohmann::ordered_json::array();
  for (int64_t g = 0; g < plan.target_kv_heads; ++g) {
    nlohmann::ordered_json heads = nlohmann::ordered_json::array();
    for (int64_t s = plan.first_source_head(g); s < plan.first_source_head(g) + plan.group_size();
         ++s)
      heads.push_back(s);
    groups.push_back(heads);
  }
  j["groups"] = groups;  // target KV head g pools these source KV heads
  if (o.grouping == Grouping::kSimilar && !orders.empty()) {
    // Per layer, as similarity chose them: the source KV heads of each target head.
    nlohmann::ordered_json layers = nlohmann::ordered_json::array();
    for (const auto& [layer, order] : orders) {
      nlohmann::ordered_json lg = nlohmann::ordered_json::array();
      for (int64_t g = 0; g < plan.target_kv_heads; ++g)
        lg.push_back(std::vector<int64_t>(order.begin() + g * plan.group_size(),
                                          order.begin() + (g + 1) * plan.group_size()));
      layers.push_back(lg);
    }
    j["groups"] = layers;
  }
  j["seed"] = o.seed;
  j["dtype"] = o.dtype ? std::string(dtype_name(*o.dtype)) : "keep";
  return j.dump(2) + "\n";
}

}  // namespace

ConvertResult convert_checkpoint(const fs::path& src, const fs::path& dst, const ConvertOptions& o,
                                 const std::function<void(const ConvertProgress&)>& progress) {
  if (is_inside(dst, src) || is_inside(src, dst))
    fail(ErrorKind::kInvalidArgument,
         "destination " + dst.string() +
             " must be outside the source checkpoint and not contain it");
  if (o.dtype && !is_float_weight_dtype(*o.dtype))
    fail(ErrorKind::kInvalidArgument, "--dtype must be keep, f32, bf16 or f16");
  const io::Checkpoint ck(src);
  const ModelConfig m = parse_hf_config(ck.config_text(), (src / "config.json").string());
  const GroupPlan plan = make_group_plan(m.kv_heads, o.kv_heads, m.head_dim);
  const std::vector<TensorJob> jobs = plan_jobs(ck, m, plan, o);
  if (o.method == PoolMethod::kSvd && m.qk_norm && plan.group_size() > 1)
    fail(ErrorKind::kUnsupported,
         src.string() +
             ": --method svd folds each head's key coefficients into its queries, which the "
             "per-head q_norm/k_norm of this model (applied before RoPE) would undo; use --method "
             "mean, with --grouping similar if wanted");
  if (o.grouping == Grouping::kSimilar && o.method == PoolMethod::kRandom)
    fail(ErrorKind::kInvalidArgument,
         "--grouping similar needs --method mean, first or svd (random keeps nothing of a group)");
  if (o.calibration && (o.calibration->layers() != m.layers || o.calibration->hidden() != m.hidden))
    fail(ErrorKind::kInvalidArgument,
         "the calibration statistics are of " + std::to_string(o.calibration->layers()) +
             " layers of width " + std::to_string(o.calibration->hidden()) + ", the model has " +
             std::to_string(m.layers) + " of width " + std::to_string(m.hidden));
  const bool layered =
      (o.method == PoolMethod::kSvd || o.grouping == Grouping::kSimilar) && plan.group_size() > 1;
  LayerCache layers(ck, m, plan, o, jobs);

  io::OutputFolder folder(dst, o.force);
  std::vector<io::TensorInfo> specs;
  for (const auto& job : jobs) {
    io::TensorInfo t;
    t.name = job.entry->info->name;
    t.dtype = job.out_dtype;
    t.shape = job.out_shape;
    specs.push_back(std::move(t));
  }
  io::WeightsWriter writer(folder.tmp(), specs, ck.metadata(), o.max_shard_bytes);
  ConvertResult result;
  result.source_kv_heads = plan.source_kv_heads;
  result.target_kv_heads = plan.target_kv_heads;
  ConvertProgress p;
  p.bytes_total = ck.total_bytes();
  for (size_t i = 0; i < jobs.size(); ++i) {
    p.tensor = &jobs[i].entry->info->name;
    if (progress) progress(p);
    const bool rewritten =
        jobs[i].role == TensorRole::kKProj || jobs[i].role == TensorRole::kVProj ||
        jobs[i].role == TensorRole::kKBias || jobs[i].role == TensorRole::kVBias ||
        jobs[i].role == TensorRole::kQkvFused || (layered && is_attention(jobs[i].role));
    if (layered && is_attention(jobs[i].role))
      run_layer_job(jobs[i], plan, m.q_dim(), layers, writer);
    else
      run_job(ck, jobs[i], plan, o, m.q_dim(), i, writer);
    p.bytes_done += jobs[i].entry->info->nbytes();
    (rewritten ? result.pooled_tensors : result.copied_tensors)++;
  }
  writer.finish();
  p.tensor = nullptr;
  if (progress) progress(p);

  const std::optional<std::string> torch_dtype =
      o.dtype ? std::optional<std::string>(std::string(torch_dtype_name(*o.dtype))) : std::nullopt;
  io::write_text_file(folder.tmp() / "config.json",
                      regroup_hf_config_json(ck.config_text(), plan.target_kv_heads, torch_dtype));
  for (const auto& f : ck.carried_files()) {
    if (f.filename() == "gqa_conversion.json") continue;
    io::copy_file(f, folder.tmp() / f.filename());
  }
  io::write_text_file(folder.tmp() / "gqa_conversion.json",
                      conversion_record(src, m, plan, o, layers.orders()));
  folder.commit();
  result.bytes_read = p.bytes_total;
  result.bytes_written = writer.total_bytes();
  result.weight_files = static_cast<int64_t>(writer.files().size());
  for (const auto& [layer, order] : layers.orders()) result.layer_order.push_back(order);
  return result;
}

}  // namespace gqa::convert

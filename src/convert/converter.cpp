#include "convert/converter.h"

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/hf_config.h"
#include "config/hf_config_writer.h"
#include "config/tensor_check.h"
#include "config/tensor_names.h"
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
  DType out_dtype;
  std::vector<int64_t> out_shape;
};

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
    TensorJob job{&e, it == expected.end() ? TensorRole::kOther : it->second->role, e.info->dtype,
                  e.info->shape};
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
      case TensorRole::kOther:
        break;
    }
    if (job.role != TensorRole::kOther && !is_float)
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
                              const ConvertOptions& o) {
  nlohmann::ordered_json j;
  j["tool"] = "gqa";
  j["tool_version"] = GQA_VERSION;
  j["source"] = fs::weakly_canonical(src).string();
  j["method"] = pool_method_name(o.method);
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
    run_job(ck, jobs[i], plan, o, m.q_dim(), i, writer);
    p.bytes_done += jobs[i].entry->info->nbytes();
    (jobs[i].role == TensorRole::kOther ? result.copied_tensors : result.pooled_tensors)++;
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
  io::write_text_file(folder.tmp() / "gqa_conversion.json", conversion_record(src, m, plan, o));
  folder.commit();
  result.bytes_read = p.bytes_total;
  result.bytes_written = writer.total_bytes();
  result.weight_files = static_cast<int64_t>(writer.files().size());
  return result;
}

}  // namespace gqa::convert

#include "convert/group_plan.h"

#include "config/model_config.h"
#include "core/error.h"

namespace gqa::convert {

PoolMethod parse_pool_method(const std::string& s) {
  if (s == "mean") return PoolMethod::kMean;
  if (s == "first") return PoolMethod::kFirst;
  if (s == "random") return PoolMethod::kRandom;
  if (s == "svd") return PoolMethod::kSvd;
  fail(ErrorKind::kInvalidArgument,
       "unknown --method '" + s + "' (expected mean, first, random, svd)");
}

const char* pool_method_name(PoolMethod m) {
  switch (m) {
    case PoolMethod::kMean:
      return "mean";
    case PoolMethod::kFirst:
      return "first";
    case PoolMethod::kRandom:
      return "random";
    case PoolMethod::kSvd:
      return "svd";
  }
  return "?";
}

Grouping parse_grouping(const std::string& s) {
  if (s == "contiguous") return Grouping::kContiguous;
  if (s == "similar") return Grouping::kSimilar;
  fail(ErrorKind::kInvalidArgument,
       "unknown --grouping '" + s + "' (expected contiguous, similar)");
}

const char* grouping_name(Grouping g) {
  return g == Grouping::kSimilar ? "similar" : "contiguous";
}

GroupPlan make_group_plan(int64_t source_kv_heads, int64_t target_kv_heads, int64_t head_dim) {
  if (target_kv_heads <= 0 || target_kv_heads > source_kv_heads ||
      source_kv_heads % target_kv_heads != 0)
    fail(ErrorKind::kInvalidArgument,
         "--kv-heads " + std::to_string(target_kv_heads) + " must divide the model's " +
             std::to_string(source_kv_heads) +
             " KV heads; valid values: " + join_counts(valid_kv_head_counts(source_kv_heads)));
  return GroupPlan{source_kv_heads, target_kv_heads, head_dim};
}

}  // namespace gqa::convert

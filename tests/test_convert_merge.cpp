// gqa convert's whole-layer methods: similarity grouping (a permutation), the RoPE-aware key
// merge and the value merge (--method svd), checked through the native runtime's logits and
// against plain loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint_fixtures.h"
#include "convert/calibration.h"
#include "convert/converter.h"
#include "convert/head_grouping.h"
#include "convert/key_merge.h"
#include "convert/layer_rewrite.h"
#include "convert/value_merge.h"
#include "core/error.h"
#include "core/text_file.h"
#include "io/checkpoint.h"
#include "io/file_output.h"
#include "io/weights_writer.h"
#include "model/model.h"
#include "model/session.h"
#include "temp_dir.h"

namespace gqa::convert {
namespace {

namespace fs = std::filesystem;
using test::make_checkpoint;
using test::read_f32;
using test::TempDir;
using test::tiny_config;

// Every tensor of an f32 checkpoint, by name, to edit and write back.
struct Tensors {
  explicit Tensors(const fs::path& dir) : ck(dir) {
    for (const auto& e : ck.tensors()) values[e.info->name] = read_f32(ck, e.info->name);
  }

  // The attention of `layer` as AttentionWeights (fused qkv_proj too).
  AttentionWeights layer(const ModelConfig& m, int64_t l) {
    const std::string p = "model.layers." + std::to_string(l) + ".self_attn.";
    auto rows = [](const std::vector<float>& v, int64_t first, int64_t n, int64_t cols) {
      return MatrixView{reinterpret_cast<const std::byte*>(v.data() + first * cols), DType::kF32, n,
                        cols};
    };
    const int64_t h = m.hidden, qd = m.q_dim(), kvd = m.kv_dim();
    StoredAttention s;
    if (values.count(p + "qkv_proj.weight")) {
      const auto& qkv = values[p + "qkv_proj.weight"];
      s.q = rows(qkv, 0, qd, h);
      s.k = rows(qkv, qd, kvd, h);
      s.v = rows(qkv, qd + kvd, kvd, h);
    } else {
      s.q = rows(values[p + "q_proj.weight"], 0, qd, h);
      s.k = rows(values[p + "k_proj.weight"], 0, kvd, h);
      s.v = rows(values[p + "v_proj.weight"], 0, kvd, h);
    }
    s.o = rows(values[p + "o_proj.weight"], 0, h, qd);
    if (values.count(p + "q_proj.bias")) {
      s.q_bias = rows(values[p + "q_proj.bias"], 0, qd, 1);
      s.k_bias = rows(values[p + "k_proj.bias"], 0, kvd, 1);
      s.v_bias = rows(values[p + "v_proj.bias"], 0, kvd, 1);
    }
    return load_attention(s, m.heads, m.kv_heads, m.head_dim);
  }

  void store(const ModelConfig& m, int64_t l, const AttentionWeights& w) {
    const std::string p = "model.layers." + std::to_string(l) + ".self_attn.";
    auto put = [](std::vector<float>& v, int64_t first, const Eigen::MatrixXd& a, int64_t cols) {
      for (int64_t r = 0; r < a.rows(); ++r)
        for (int64_t c = 0; c < cols; ++c)
          v[static_cast<size_t>((first + r) * cols + c)] = static_cast<float>(a(r, c));
    };
    const int64_t h = m.hidden;
    if (values.count(p + "qkv_proj.weight")) {
      auto& qkv = values[p + "qkv_proj.weight"];
      put(qkv, 0, w.q, h);
      put(qkv, w.q.rows(), w.k, h);
      put(qkv, w.q.rows() + w.k.rows(), w.v, h);
    } else {
      put(values[p + "q_proj.weight"], 0, w.q, h);
      put(values[p + "k_proj.weight"], 0, w.k, h);
      put(values[p + "v_proj.weight"], 0, w.v, h);
    }
    put(values[p + "o_proj.weight"], 0, w.o, w.o.cols());
    if (values.count(p + "q_proj.bias")) {
      put(values[p + "q_proj.bias"], 0, w.q.rightCols(1), 1);
      put(values[p + "k_proj.bias"], 0, w.k.rightCols(1), 1);
      put(values[p + "v_proj.bias"], 0, w.v.rightCols(1), 1);
    }
  }

  void write(const fs::path& dir, uint64_t max_shard_bytes = 0) {
    fs::create_directories(dir);
    std::vector<io::TensorInfo> specs;
    for (const auto& e : ck.tensors()) specs.push_back(*e.info);
    io::WeightsWriter out(dir, specs, ck.metadata(), max_shard_bytes);
    for (const auto& e : ck.tensors()) {
      const auto& v = values[e.info->name];
      out.write(e.info->name,
                {reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(float)});
    }
    out.finish();
    io::write_text_file(dir / "config.json", ck.config_text());
  }

  io::Checkpoint ck;
  std::map<std::string, std::vector<float>> values;
};

std::vector<float> logits_of(const fs::path& dir) {
  const model::Model m(dir);
  model::Session s(m, 64);
  std::vector<int32_t> tokens;
  for (int i = 0; i < 40; ++i) tokens.push_back((i * 37 + 11) % 61);
  std::vector<float> logits;
  s.forward(tokens, logits, true);
  return logits;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d;
}

double max_abs(const std::vector<float>& a) {
  double d = 0;
  for (float v : a) d = std::max(d, std::fabs(double(v)));
  return d;
}

ConvertOptions to(int64_t g, PoolMethod method, Grouping grouping = Grouping::kContiguous) {
  ConvertOptions o;
  o.kv_heads = g;
  o.method = method;
  o.grouping = grouping;
  return o;
}

// Makes every group's heads exact complex multiples of the group's first head on each rotated
// pair (a real multiple past the rotary dimension), and its values an invertible map of the
// first head's: what svd represents without loss.
void make_groups_redundant(AttentionWeights& w, int64_t target, int64_t rotary_dim,
                           std::mt19937_64& rng) {
  std::normal_distribution<double> n;
  const int64_t d = w.head_dim, r = w.kv_heads / target, half = rotary_dim / 2;
  for (int64_t g = 0; g < target; ++g) {
    const int64_t j0 = g * r;
    for (int64_t t = 1; t < r; ++t) {
      const int64_t j = g * r + t;
      for (int64_t p = 0; p < half; ++p) {
        const double a = n(rng), b = n(rng);
        const Eigen::RowVectorXd re = w.k.row(j0 * d + p), im = w.k.row(j0 * d + p + half);
        w.k.row(j * d + p) = a * re - b * im;  // (a + ib)(re + i im)
        w.k.row(j * d + p + half) = b * re + a * im;
      }
      for (int64_t e = rotary_dim; e < d; ++e) w.k.row(j * d + e) = n(rng) * w.k.row(j0 * d + e);
      Eigen::MatrixXd map(d, d);
      for (int64_t i = 0; i < d * d; ++i) map(i) = n(rng) / std::sqrt(double(d));
      map.diagonal().array() += 1.0;
      w.v.middleRows(j * d, d) = map * w.v.middleRows(j0 * d, d);
    }
  }
}

struct Family {
  Architecture arch;
  double partial_rotary = 1.0;
  int64_t kv_heads = 8;  // of 8 query heads
};

TEST(ConvertMerge, SvdReproducesTheLogitsOfHeadsThatAreExactMultiplesMeanDoesNot) {
  // Llama, Qwen2 (q/k/v biases), Phi-3 with a fused qkv_proj and 3/4 of each head rotated, and
  // a GQA source (4 KV heads, two query heads each) going to 2.
  for (const Family f : {Family{Architecture::kLlama}, Family{Architecture::kQwen2},
                         Family{Architecture::kPhi3, 0.75}, Family{Architecture::kLlama, 1.0, 4}}) {
    TempDir dir;
    auto m = tiny_config(f.arch, 8, f.kv_heads, 8);
    m.partial_rotary_factor = f.partial_rotary;
    make_checkpoint(m, dir / "random", DType::kF32, 21);
    Tensors t(dir / "random");
    std::mt19937_64 rng(3);
    for (int64_t l = 0; l < m.layers; ++l) {
      AttentionWeights w = t.layer(m, l);
      make_groups_redundant(w, 2, m.rotary_dim(), rng);
      t.store(m, l, w);
    }
    t.write(dir / "src");
    const auto base = logits_of(dir / "src");
    convert_checkpoint(dir / "src", dir / "svd", to(2, PoolMethod::kSvd));
    convert_checkpoint(dir / "src", dir / "mean", to(2, PoolMethod::kMean));
    const double scale = max_abs(base);
    // f32 rounding of the refactored weights and of the forward pass: measured up to 5.5e-6 of
    // the largest logit (release build) and 1.05e-5 (sanitizer build, no FMA) on a Zen 5 VM;
    // mean pooling is off by more than 1e-2.
    EXPECT_LT(max_abs_diff(logits_of(dir / "svd"), base), 1e-4 * scale) << int(f.arch);
    // A sharded source gives the same: a layer's tensors are found in whichever file holds them.
    t.write(dir / "src-shards", 6000);
    ASSERT_TRUE(fs::exists(dir / "src-shards" / "model.safetensors.index.json"));
    convert_checkpoint(dir / "src-shards", dir / "svd-shards", to(2, PoolMethod::kSvd));
    EXPECT_EQ(logits_of(dir / "svd-shards"), logits_of(dir / "svd")) << int(f.arch);
    EXPECT_GT(max_abs_diff(logits_of(dir / "mean"), base), 1e-2 * scale) << int(f.arch);
    EXPECT_EQ(
        io::Checkpoint(dir / "svd")
            .view("model.layers.0.self_attn." +
                  std::string(f.arch == Architecture::kPhi3 ? "qkv_proj.weight" : "k_proj.weight"))
            .shape[0],
        f.arch == Architecture::kPhi3 ? 64 + 2 * 16 : 16);
  }
}

TEST(ConvertMerge, APermutationOfHeadsChangesNoLogit) {
  for (const Architecture arch : {Architecture::kQwen3, Architecture::kQwen2}) {
    TempDir dir;
    const auto m = tiny_config(arch, 8, 4, 8);  // GQA: two query heads move with each KV head
    make_checkpoint(m, dir / "src", DType::kF32, 5);
    Tensors t(dir / "src");
    const std::vector<int64_t> order{2, 0, 3, 1};
    for (int64_t l = 0; l < m.layers; ++l) {
      AttentionWeights w = t.layer(m, l);
      permute_kv_heads(w, order);
      t.store(m, l, w);
    }
    t.write(dir / "permuted");
    const auto base = logits_of(dir / "src");
    EXPECT_LT(max_abs_diff(logits_of(dir / "permuted"), base), 1e-5 * max_abs(base));
    // The permutation moved something.
    EXPECT_NE(read_f32(io::Checkpoint(dir / "permuted"), "model.layers.0.self_attn.k_proj.weight"),
              read_f32(io::Checkpoint(dir / "src"), "model.layers.0.self_attn.k_proj.weight"));
  }
}

// Plain loops: the score of query head h against its key, pair by pair, and each head's output
// through o_proj, before and after the merge, for heads that are exact multiples. Each pair and
// each head must match on its own, so a map folded into the wrong rows fails.
TEST(ConvertMerge, FoldedQueryAndOutputMapsLandOnTheRightRows) {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> n;
  AttentionWeights w;
  w.heads = 8;
  w.kv_heads = 4;
  w.head_dim = 6;
  w.hidden = 7;
  w.has_bias = true;
  w.q = Eigen::MatrixXd::NullaryExpr(48, 8, [&] { return n(rng); });
  w.k = Eigen::MatrixXd::NullaryExpr(24, 8, [&] { return n(rng); });
  w.v = Eigen::MatrixXd::NullaryExpr(24, 8, [&] { return n(rng); });
  w.o = Eigen::MatrixXd::NullaryExpr(7, 48, [&] { return n(rng); });
  const int64_t rot = 4, d = 6, half = 2;  // values 4 and 5 are not rotated
  make_groups_redundant(w, 2, rot, rng);
  const RewrittenAttention r =
      rewrite_attention(w, GroupPlan{4, 2, 6},
                        LayerConversion{PoolMethod::kSvd, Grouping::kContiguous, rot, nullptr});
  const AttentionWeights& c = r.w;
  ASSERT_EQ(c.k.rows(), 12);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<double> x(8), y(8);
    for (auto* v : {&x, &y}) {
      for (auto& e : *v) e = n(rng);
      (*v)[7] = 1.0;  // the bias input
    }
    auto dot = [&](const Eigen::MatrixXd& a, int64_t row, const std::vector<double>& in) {
      double s = 0;
      for (int64_t i = 0; i < 8; ++i) s += a(row, i) * in[static_cast<size_t>(i)];
      return s;
    };
    for (int64_t h = 0; h < 8; ++h) {
      const int64_t j = h / 2, g = h / 4;  // source KV head, target KV head
      for (int64_t p = 0; p < d; ++p) {
        if (p >= half && p < rot) continue;
        const bool pair = p < half;
        double before = dot(w.q, h * d + p, x) * dot(w.k, j * d + p, y);
        double after = dot(c.q, h * d + p, x) * dot(c.k, g * d + p, y);
        if (pair) {
          before += dot(w.q, h * d + p + half, x) * dot(w.k, j * d + p + half, y);
          after += dot(c.q, h * d + p + half, x) * dot(c.k, g * d + p + half, y);
        }
        EXPECT_NEAR(after, before, 1e-9 * (1 + std::fabs(before))) << "head " << h << " slot " << p;
      }
      for (int64_t out = 0; out < 7; ++out) {
        double before = 0, after = 0;
        for (int64_t i = 0; i < d; ++i) {
          before += w.o(out, h * d + i) * dot(w.v, j * d + i, x);
          after += c.o(out, h * d + i) * dot(c.v, g * d + i, x);
        }
        EXPECT_NEAR(after, before, 1e-9 * (1 + std::fabs(before))) << "head " << h;
      }
    }
  }
}

TEST(ConvertMerge, SvdFitsKeysAndValuesNoWorseThanTheMean) {
  TempDir dir;
  const auto m = tiny_config(Architecture::kLlama, 8, 8, 8);
  make_checkpoint(m, dir / "src", DType::kF32, 8);
  Tensors t(dir / "src");
  const AttentionWeights w = t.layer(m, 0);
  const KeyFit keys(w, nullptr, 8);
  const ValueFit values(w, nullptr);
  const int64_t group[] = {0, 1, 2, 3};
  EXPECT_GT(keys.residual(group), 0.0);
  EXPECT_LT(keys.residual(group), 1.0);
  // The mean keeps one direction of four random ones in each slot: about 1/4 of the energy.
  // The fit keeps the top one, at least as much.
  EXPECT_LT(keys.residual(group), 0.75 + 1e-9);
  EXPECT_LT(values.residual(group), 0.75 + 1e-9);
  const int64_t same[] = {5, 5};
  EXPECT_NEAR(keys.residual(same), 0.0, 1e-12);
  EXPECT_NEAR(values.residual(same), 0.0, 1e-12);
}

TEST(ConvertMerge, SameGroupCountIsTheIdentityAndGroupsAreRecorded) {
  TempDir dir;
  const auto m = tiny_config(Architecture::kLlama, 8, 8, 8);
  make_checkpoint(m, dir / "src", DType::kBF16, 4);
  convert_checkpoint(dir / "src", dir / "same", to(8, PoolMethod::kSvd, Grouping::kSimilar));
  std::ifstream a(dir / "src" / "model.safetensors", std::ios::binary),
      b(dir / "same" / "model.safetensors", std::ios::binary);
  EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(a), {}, std::istreambuf_iterator<char>(b)));

  // Similar grouping with the mean: each target head is the mean of the heads the record names.
  const ConvertResult r = convert_checkpoint(dir / "src", dir / "similar",
                                             to(2, PoolMethod::kMean, Grouping::kSimilar));
  const auto record =
      nlohmann::json::parse(read_text_file(dir / "similar" / "gqa_conversion.json"));
  EXPECT_EQ(record["grouping"], "similar");
  ASSERT_EQ(record["groups"].size(), 2u);  // per layer
  const io::Checkpoint src(dir / "src"), dst(dir / "similar");
  for (int64_t l = 0; l < 2; ++l) {
    const std::string name = "model.layers." + std::to_string(l) + ".self_attn.k_proj.weight";
    const auto ks = read_f32(src, name), kd = read_f32(dst, name);
    for (int64_t g = 0; g < 2; ++g) {
      const auto heads = record["groups"][l][g].get<std::vector<int64_t>>();
      ASSERT_EQ(heads.size(), 4u);
      for (int64_t i = 0; i < 8 * 36; ++i) {
        double mean = 0;
        for (int64_t j : heads) mean += ks[static_cast<size_t>(j * 8 * 36 + i)] / 4.0;
        EXPECT_NEAR(kd[static_cast<size_t>(g * 8 * 36 + i)], mean, 1e-2 * (1 + std::fabs(mean)));
      }
    }
    EXPECT_EQ(r.layer_order[static_cast<size_t>(l)].size(), 8u);
  }
}

TEST(ConvertMerge, SimilarGroupingPairsTheHeadsThatAreAlike) {
  // Heads 0-3 and 4-7 of a random model, with heads 0, 2, 5, 7 made copies of one another:
  // contiguous groups split them, similarity puts them together.
  TempDir dir;
  const auto m = tiny_config(Architecture::kLlama, 8, 8, 8);
  make_checkpoint(m, dir / "random", DType::kF32, 6);
  Tensors t(dir / "random");
  for (int64_t l = 0; l < 2; ++l) {
    AttentionWeights w = t.layer(m, l);
    for (int64_t j : {2, 5, 7}) {
      w.k.middleRows(j * 8, 8) = w.k.middleRows(0, 8);
      w.v.middleRows(j * 8, 8) = w.v.middleRows(0, 8);
    }
    t.store(m, l, w);
  }
  t.write(dir / "src");
  for (const PoolMethod method : {PoolMethod::kMean, PoolMethod::kSvd}) {
    const ConvertResult r = convert_checkpoint(dir / "src", dir / pool_method_name(method),
                                               to(2, method, Grouping::kSimilar));
    for (const auto& order : r.layer_order)
      EXPECT_EQ(order, (std::vector<int64_t>{0, 2, 5, 7, 1, 3, 4, 6}));
  }
}

TEST(ConvertMerge, CalibrationMomentsAndRefusals) {
  AttentionInputStats stats(2, 3);
  const float x[] = {1, 2, 3, -1, 0, 2};  // two tokens
  stats.add(1, x, 2);
  EXPECT_EQ(stats.tokens(1), 2);
  const InputMoment mo = stats.moment(1);
  EXPECT_DOUBLE_EQ(mo(0, 0), (1.0 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(mo(0, 2), (3.0 - 2.0) / 2);
  EXPECT_DOUBLE_EQ(mo(2, 0), (3.0 - 2.0) / 2);
  EXPECT_DOUBLE_EQ(mo(1, 3), 1.0);  // E x_1
  EXPECT_DOUBLE_EQ(mo(3, 3), 1.0);
  EXPECT_THROW(stats.moment(0), Error);  // no tokens

  TempDir dir;
  const auto qwen3 = tiny_config(Architecture::kQwen3, 8, 8, 8);
  make_checkpoint(qwen3, dir / "qwen3", DType::kF32, 2);
  EXPECT_THROW(convert_checkpoint(dir / "qwen3", dir / "out", to(2, PoolMethod::kSvd)), Error);
  EXPECT_THROW(convert_checkpoint(dir / "qwen3", dir / "out",
                                  to(2, PoolMethod::kRandom, Grouping::kSimilar)),
               Error);
  ConvertOptions o = to(2, PoolMethod::kMean, Grouping::kSimilar);
  o.calibration = &stats;  // 2 layers of width 3: not this model
  EXPECT_THROW(convert_checkpoint(dir / "qwen3", dir / "out", o), Error);
  EXPECT_FALSE(fs::exists(dir / "out"));
  convert_checkpoint(dir / "qwen3", dir / "out", to(2, PoolMethod::kMean, Grouping::kSimilar));
}

}  // namespace
}  // namespace gqa::convert

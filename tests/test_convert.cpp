#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "checkpoint_fixtures.h"
#include "config/hf_config.h"
#include "convert/converter.h"
#include "core/error.h"
#include "core/half.h"
#include "core/text_file.h"
#include "io/checkpoint.h"
#include "io/weights_writer.h"
#include "temp_dir.h"

namespace gqa::convert {
namespace {

using test::make_checkpoint;
using test::read_f32;
using test::TempDir;
using test::tiny_config;

std::string attn(int layer, const std::string& what) {
  return "model.layers." + std::to_string(layer) + ".self_attn." + what;
}

// y = W x for W [rows, cols], in double.
std::vector<double> matvec(const std::vector<float>& w, const std::vector<double>& x) {
  const size_t cols = x.size(), rows = w.size() / cols;
  std::vector<double> y(rows, 0.0);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) y[r] += static_cast<double>(w[r * cols + c]) * x[c];
  return y;
}

std::vector<double> random_vector(std::mt19937_64& rng, size_t n) {
  std::normal_distribution<double> d;
  std::vector<double> x(n);
  for (auto& v : x) v = d(rng);
  return x;
}

// HF rotate-half RoPE on one head vector at position p.
std::vector<double> rope(const std::vector<double>& k, int64_t pos, double theta = 10000.0) {
  const size_t d = k.size(), half = d / 2;
  std::vector<double> out(d);
  for (size_t i = 0; i < half; ++i) {
    const double a = pos * std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
    out[i] = k[i] * std::cos(a) - k[i + half] * std::sin(a);
    out[i + half] = k[i + half] * std::cos(a) + k[i] * std::sin(a);
  }
  return out;
}

std::vector<double> head(const std::vector<double>& all, int64_t h, int64_t hd) {
  return {all.begin() + h * hd, all.begin() + (h + 1) * hd};
}

ConvertOptions to(int64_t g, PoolMethod method = PoolMethod::kMean) {
  ConvertOptions o;
  o.kv_heads = g;
  o.method = method;
  return o;
}

TEST(Convert, MeanPooledKeysEqualTheMeanOfTheGroupsKeys) {
  TempDir dir;
  const auto m = tiny_config(Architecture::kQwen2, 12, 12, 10);  // q/k/v biases too
  make_checkpoint(m, dir / "src", DType::kF32, 11);
  for (int64_t g : {6, 4, 3, 1}) {
    const auto out = dir / ("g" + std::to_string(g));
    convert_checkpoint(dir / "src", out, to(g));
    const io::Checkpoint src(dir / "src"), dst(out);
    std::mt19937_64 rng(static_cast<uint64_t>(g));
    const int64_t r = 12 / g, hd = 10;
    for (int layer = 0; layer < 2; ++layer) {
      for (const char* proj : {"k_proj", "v_proj"}) {
        const auto x = random_vector(rng, 36);
        const auto ws = read_f32(src, attn(layer, std::string(proj) + ".weight"));
        const auto bs = read_f32(src, attn(layer, std::string(proj) + ".bias"));
        const auto wd = read_f32(dst, attn(layer, std::string(proj) + ".weight"));
        const auto bd = read_f32(dst, attn(layer, std::string(proj) + ".bias"));
        ASSERT_EQ(wd.size(), static_cast<size_t>(g * hd * 36));
        auto ys = matvec(ws, x), yd = matvec(wd, x);
        for (size_t i = 0; i < ys.size(); ++i) ys[i] += bs[i];
        for (size_t i = 0; i < yd.size(); ++i) yd[i] += bd[i];
        for (int64_t t = 0; t < g; ++t)
          for (int64_t i = 0; i < hd; ++i) {
            double mean = 0;
            for (int64_t j = t * r; j < (t + 1) * r; ++j) mean += ys[j * hd + i];
            mean /= static_cast<double>(r);
            EXPECT_NEAR(yd[t * hd + i], mean, 1e-5 * (1 + std::fabs(mean)))
                << proj << " g=" << g << " head " << t;
          }
      }
    }
  }
}

TEST(Convert, RopeCommutesWithTheMeanAtRandomPositions) {
  TempDir dir;
  const auto m = tiny_config(Architecture::kLlama, 8, 8, 16);
  make_checkpoint(m, dir / "src", DType::kF32, 12);
  convert_checkpoint(dir / "src", dir / "dst", to(2));
  const io::Checkpoint src(dir / "src"), dst(dir / "dst");
  const auto ws = read_f32(src, attn(1, "k_proj.weight"));
  const auto wd = read_f32(dst, attn(1, "k_proj.weight"));
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 20; ++trial) {
    const auto x = random_vector(rng, 36);
    const int64_t pos = static_cast<int64_t>(rng() % 100000);
    const auto ks = matvec(ws, x), kd = matvec(wd, x);
    for (int64_t t = 0; t < 2; ++t) {
      // Pool then rotate ...
      const auto pooled_rotated = rope(head(kd, t, 16), pos);
      // ... equals rotate then pool.
      std::vector<double> rotated_pooled(16, 0.0);
      for (int64_t j = t * 4; j < (t + 1) * 4; ++j) {
        const auto rj = rope(head(ks, j, 16), pos);
        for (int i = 0; i < 16; ++i) rotated_pooled[i] += rj[i] / 4.0;
      }
      for (int i = 0; i < 16; ++i)
        EXPECT_NEAR(pooled_rotated[i], rotated_pooled[i],
                    1e-5 * (1 + std::fabs(rotated_pooled[i])));
    }
  }
}

TEST(Convert, SameGroupCountIsByteIdenticalAndOtherTensorsAreCopied) {
  TempDir dir;
  const auto m = tiny_config(Architecture::kQwen3, 6, 6, 8);
  make_checkpoint(m, dir / "src", DType::kBF16, 13);
  convert_checkpoint(dir / "src", dir / "same", to(6));
  convert_checkpoint(dir / "src", dir / "mqa", to(1));
  const io::Checkpoint src(dir / "src"), same(dir / "same"), mqa(dir / "mqa");
  for (const auto& e : src.tensors()) {
    const auto a = src.view(e), b = same.view(e.info->name);
    EXPECT_TRUE(std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end()))
        << e.info->name;
    const auto c = mqa.view(e.info->name);
    const bool pooled = e.info->name.find("k_proj") != std::string::npos ||
                        e.info->name.find("v_proj") != std::string::npos;
    if (!pooled) {  // q_proj, o_proj, q_norm/k_norm, MLP, norms, embeddings: unchanged
      EXPECT_TRUE(std::equal(a.data.begin(), a.data.end(), c.data.begin(), c.data.end()))
          << e.info->name;
    } else {
      EXPECT_EQ(c.shape[0], 8) << e.info->name;  // one KV head of head_dim 8
    }
  }
  const ModelConfig cfg = load_hf_config(dir / "mqa");
  EXPECT_EQ(cfg.kv_heads, 1);
  EXPECT_EQ(cfg.heads, 6);
}

TEST(Convert, BfloatMeanIsTheF32MeanRoundedToNearestEven) {
  TempDir dir;
  const auto m = tiny_config(Architecture::kLlama, 4, 4, 6);
  make_checkpoint(m, dir / "src", DType::kBF16, 14);
  convert_checkpoint(dir / "src", dir / "dst", to(2));
  const io::Checkpoint src(dir / "src"), dst(dir / "dst");
  const auto s = read_f32(src, attn(0, "v_proj.weight"));
  const auto d = dst.view(attn(0, "v_proj.weight"));
  ASSERT_EQ(d.dtype, DType::kBF16);
  const auto* bits = reinterpret_cast<const uint16_t*>(d.data.data());
  const size_t cols = 36, hd = 6;
  for (size_t t = 0; t < 2; ++t)
    for (size_t i = 0; i < hd; ++i)
      for (size_t c = 0; c < cols; ++c) {
        const float mean =
            (s[((2 * t) * hd + i) * cols + c] + s[((2 * t + 1) * hd + i) * cols + c]) / 2.0f;
        ASSERT_EQ(bits[(t * hd + i) * cols + c], f32_to_bf16(mean));
      }
}

TEST(Convert, FirstKeepsTheFirstHeadAndRandomMatchesTheSourceScale) {
  TempDir dir;
  const auto m = tiny_config(Architecture::kLlama, 8, 8, 8);
  make_checkpoint(m, dir / "src", DType::kF32, 15);
  convert_checkpoint(dir / "src", dir / "first", to(2, PoolMethod::kFirst));
  ConvertOptions r = to(2, PoolMethod::kRandom);
  r.seed = 99;
  convert_checkpoint(dir / "src", dir / "rand1", r);
  convert_checkpoint(dir / "src", dir / "rand2", r);
  const io::Checkpoint src(dir / "src"), first(dir / "first"), r1(dir / "rand1"), r2(dir / "rand2");
  const auto s = read_f32(src, attn(0, "k_proj.weight"));
  const auto f = read_f32(first, attn(0, "k_proj.weight"));
  const size_t head_block = 8 * 36;
  for (size_t t = 0; t < 2; ++t)
    for (size_t k = 0; k < head_block; ++k)
      ASSERT_EQ(f[t * head_block + k], s[4 * t * head_block + k]);
  const auto a = read_f32(r1, attn(0, "k_proj.weight"));
  EXPECT_EQ(a, read_f32(r2, attn(0, "k_proj.weight")));  // same seed, same weights
  auto stddev = [](const std::vector<float>& v) {
    double s1 = 0, s2 = 0;
    for (float x : v) s1 += x, s2 += double(x) * x;
    const double n = static_cast<double>(v.size());
    return std::sqrt(s2 / n - (s1 / n) * (s1 / n));
  };
  EXPECT_NEAR(stddev(a) / stddev(s), 1.0, 0.1);
  EXPECT_NE(a, std::vector<float>(f.begin(), f.end()));
}

TEST(Convert, GqaToFewerGroupsAndFusedQkvOfPhi3) {
  TempDir dir;
  const auto gqa = tiny_config(Architecture::kLlama, 8, 4, 8);
  make_checkpoint(gqa, dir / "gqa", DType::kF32, 16);
  convert_checkpoint(dir / "gqa", dir / "gqa2", to(2));
  EXPECT_EQ(load_hf_config(dir / "gqa2").kv_heads, 2);
  try {
    convert_checkpoint(dir / "gqa", dir / "bad", to(8));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("valid values: 1, 2, 4"), std::string::npos) << e.what();
  }

  const auto phi = tiny_config(Architecture::kPhi3, 4, 4, 6);
  make_checkpoint(phi, dir / "phi", DType::kF32, 17);
  convert_checkpoint(dir / "phi", dir / "phi2", to(2));
  const io::Checkpoint s(dir / "phi"), d(dir / "phi2");
  const auto ws = read_f32(s, attn(0, "qkv_proj.weight"));
  const auto wd = read_f32(d, attn(0, "qkv_proj.weight"));
  const size_t cols = 36, q = 4 * 6, kv_src = 4 * 6, kv_dst = 2 * 6;
  ASSERT_EQ(wd.size(), (q + 2 * kv_dst) * cols);
  for (size_t k = 0; k < q * cols; ++k) ASSERT_EQ(wd[k], ws[k]);  // q rows untouched
  for (size_t part = 0; part < 2; ++part)                         // k then v
    for (size_t t = 0; t < 2; ++t)
      for (size_t i = 0; i < 6; ++i)
        for (size_t c = 0; c < cols; ++c) {
          const size_t src_base = q + part * kv_src, dst_base = q + part * kv_dst;
          const float mean = (ws[(src_base + (2 * t) * 6 + i) * cols + c] +
                              ws[(src_base + (2 * t + 1) * 6 + i) * cols + c]) /
                             2.0f;
          ASSERT_EQ(wd[(dst_base + t * 6 + i) * cols + c], mean);
        }
}

TEST(Convert, ConfigCarriedFilesAndRecordAreWrittenAndSourceUntouched) {
  TempDir dir;
  const auto m = tiny_config(Architecture::kLlama, 4, 4, 8);
  make_checkpoint(m, dir / "src", DType::kF32, 18);
  std::ofstream(dir / "src" / "tokenizer.model") << "spm bytes";
  std::ofstream(dir / "src" / "generation_config.json") << R"({"bos_token_id": 1})";
  const auto before = test::read_f32(io::Checkpoint(dir / "src"), attn(0, "k_proj.weight"));
  ConvertOptions o = to(2);
  o.dtype = DType::kF16;
  o.max_shard_bytes = 20000;
  convert_checkpoint(dir / "src", dir / "dst", o);
  EXPECT_EQ(read_text_file(dir / "dst" / "tokenizer.model"), "spm bytes");
  EXPECT_TRUE(std::filesystem::exists(dir / "dst" / "generation_config.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "dst" / "model.safetensors.index.json"));
  const std::string record = read_text_file(dir / "dst" / "gqa_conversion.json");
  for (const char* s : {"\"method\": \"mean\"", "\"kv_heads\": 2", "\"source_kv_heads\": 4",
                        "\"seed\": 0", "\"groups\""})
    EXPECT_NE(record.find(s), std::string::npos) << s;
  const ModelConfig cfg = load_hf_config(dir / "dst");
  EXPECT_EQ(cfg.kv_heads, 2);
  EXPECT_EQ(cfg.torch_dtype, "float16");
  EXPECT_EQ(io::Checkpoint(dir / "dst").view(attn(0, "q_proj.weight")).dtype, DType::kF16);
  EXPECT_EQ(before, test::read_f32(io::Checkpoint(dir / "src"), attn(0, "k_proj.weight")));
  EXPECT_EQ(load_hf_config(dir / "src").kv_heads, 4);
}

TEST(Convert, FailuresLeaveNothingAtTheDestination) {
  TempDir dir;
  const auto m = tiny_config(Architecture::kLlama, 4, 4, 8);
  make_checkpoint(m, dir / "src", DType::kF32, 19);
  auto nothing_left = [&] {
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
      if (e.path().filename() != "src") return false;
    return true;
  };
  EXPECT_THROW(convert_checkpoint(dir / "src", dir / "dst", to(3)), Error);
  EXPECT_TRUE(nothing_left());
  EXPECT_THROW(convert_checkpoint(dir / "src", dir / "src" / "inside", to(2)), Error);
  EXPECT_THROW(convert_checkpoint(dir / "src", dir / "src", to(2)), Error);
  // A truncated weights file.
  std::filesystem::copy(dir / "src", dir / "trunc", std::filesystem::copy_options::recursive);
  std::filesystem::resize_file(dir / "trunc" / "model.safetensors",
                               std::filesystem::file_size(dir / "trunc" / "model.safetensors") - 3);
  EXPECT_THROW(convert_checkpoint(dir / "trunc", dir / "dst", to(2)), Error);
  std::filesystem::remove_all(dir / "trunc");
  EXPECT_TRUE(nothing_left());
  // An existing destination without --force is refused and kept as it was.
  std::filesystem::create_directory(dir / "dst");
  std::ofstream(dir / "dst" / "keep.txt") << "mine";
  EXPECT_THROW(convert_checkpoint(dir / "src", dir / "dst", to(2)), Error);
  EXPECT_EQ(read_text_file(dir / "dst" / "keep.txt"), "mine");
  ConvertOptions forced = to(2);
  forced.force = true;
  convert_checkpoint(dir / "src", dir / "dst", forced);
  EXPECT_FALSE(std::filesystem::exists(dir / "dst" / "keep.txt"));
  EXPECT_EQ(load_hf_config(dir / "dst").kv_heads, 2);
}

TEST(Convert, MissingOrMisshapedTensorsAreNamed) {
  TempDir dir;
  auto m = tiny_config(Architecture::kLlama, 4, 4, 8);
  make_checkpoint(m, dir / "src", DType::kF32, 20);
  // A config that claims a bigger MLP than the weights hold.
  std::string cfg = read_text_file(dir / "src" / "config.json");
  cfg.replace(cfg.find("\"intermediate_size\": 52"), 23, "\"intermediate_size\": 64");
  std::ofstream(dir / "src" / "config.json") << cfg;
  try {
    convert_checkpoint(dir / "src", dir / "dst", to(2));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gate_proj.weight' has shape [52, 36]"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "dst"));
}

}  // namespace
}  // namespace gqa::convert

namespace gqa::convert {
namespace {

// Renames every tensor of a checkpoint under `prefix` (as multimodal Gemma 3 stores its
// language model) and adds a vision-tower tensor that looks like a K projection.
void rewrite_with_prefix(const std::filesystem::path& from, const std::filesystem::path& to,
                         const std::string& prefix) {
  const io::Checkpoint ck(from);
  std::vector<io::TensorInfo> specs;
  for (const auto& e : ck.tensors()) {
    io::TensorInfo t = *e.info;
    t.name =
        (t.name.starts_with("model.") ? prefix + t.name.substr(6) : "language_model." + t.name);
    specs.push_back(t);
  }
  specs.push_back(
      {"vision_tower.encoder.layers.0.self_attn.k_proj.weight", DType::kF32, {3, 2}, 0, 0});
  std::filesystem::create_directories(to);
  io::WeightsWriter w(to, specs, {}, 0);
  for (size_t i = 0; i + 1 < specs.size(); ++i)
    w.write(specs[i].name, ck.view(ck.tensors()[i]).data);
  const float vision[6] = {1, 2, 3, 4, 5, 6};
  w.write(specs.back().name, std::as_bytes(std::span(vision)));
  w.finish();
  std::filesystem::copy_file(from / "config.json", to / "config.json");
}

TEST(Convert, MultimodalPrefixIsFoundAndOtherComponentsAreCopied) {
  TempDir dir;
  auto m = test::tiny_config(Architecture::kGemma3, 4, 4, 8);
  m.sliding_window = 16;
  make_checkpoint(m, dir / "plain", DType::kF32, 21);
  rewrite_with_prefix(dir / "plain", dir / "mm", "language_model.model.");
  convert_checkpoint(dir / "mm", dir / "out", to(1));
  const io::Checkpoint src(dir / "mm"), out(dir / "out");
  EXPECT_EQ(out.view("language_model.model.layers.1.self_attn.k_proj.weight").shape[0], 8);
  EXPECT_EQ(out.view("vision_tower.encoder.layers.0.self_attn.k_proj.weight").shape[0], 3);
  const auto v = read_f32(out, "vision_tower.encoder.layers.0.self_attn.k_proj.weight");
  EXPECT_EQ(v, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(read_f32(out, "language_model.model.layers.0.pre_feedforward_layernorm.weight"),
            read_f32(src, "language_model.model.layers.0.pre_feedforward_layernorm.weight"));
}

TEST(Convert, ShardedSourceConvertsLikeASingleFile) {
  TempDir dir;
  const auto m = test::tiny_config(Architecture::kLlama, 6, 6, 8);
  make_checkpoint(m, dir / "one", DType::kBF16, 22);
  make_checkpoint(m, dir / "many", DType::kBF16, 22, 5000);
  EXPECT_TRUE(io::Checkpoint(dir / "many").sharded());
  convert_checkpoint(dir / "one", dir / "one3", to(3));
  convert_checkpoint(dir / "many", dir / "many3", to(3));
  const io::Checkpoint a(dir / "one3"), b(dir / "many3");
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (const auto& e : a.tensors()) {
    const auto va = a.view(e), vb = b.view(e.info->name);
    EXPECT_TRUE(std::equal(va.data.begin(), va.data.end(), vb.data.begin(), vb.data.end()))
        << e.info->name;
  }
}

}  // namespace
}  // namespace gqa::convert

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "checkpoint_fixtures.h"
#include "config/hf_config.h"
#include "convert/import_llama2c.h"
#include "core/error.h"
#include "core/text_file.h"
#include "io/checkpoint.h"
#include "temp_dir.h"

namespace gqa::convert {
namespace {

using test::TempDir;

// A llama2.c v0 file written here, independently of the importer: header, then each array.
struct Llama2cModel {
  int32_t dim = 24, hidden = 40, layers = 2, heads = 4, kv_heads = 2, vocab = 33, seq_len = 16;
  bool shared = true;
  std::vector<float> embed, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq, wcls;

  int32_t head_size() const { return dim / heads; }
  int32_t kv_dim() const { return kv_heads * head_size(); }

  void fill(uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> n;
    auto make = [&](size_t count) {
      std::vector<float> v(count);
      for (auto& x : v) x = n(rng);
      return v;
    };
    const size_t L = layers, d = dim, f = hidden, V = vocab, kv = kv_dim();
    embed = make(V * d);
    rms_att = make(L * d);
    wq = make(L * d * d);
    wk = make(L * kv * d);
    wv = make(L * kv * d);
    wo = make(L * d * d);
    rms_ffn = make(L * d);
    w1 = make(L * f * d);
    w2 = make(L * d * f);
    w3 = make(L * f * d);
    rms_final = make(d);
    freq = make(static_cast<size_t>(seq_len) * head_size());  // real and imag halves
    if (!shared) wcls = make(V * d);
  }

  void write(const std::filesystem::path& p, size_t drop_tail = 0) const {
    std::vector<char> bytes;
    const int32_t header[7] = {dim,    hidden, layers, heads, kv_heads, shared ? vocab : -vocab,
                               seq_len};
    bytes.insert(bytes.end(), reinterpret_cast<const char*>(header),
                 reinterpret_cast<const char*>(header) + sizeof(header));
    for (const auto* v :
         {&embed, &rms_att, &wq, &wk, &wv, &wo, &rms_ffn, &w1, &w2, &w3, &rms_final, &freq, &wcls})
      bytes.insert(bytes.end(), reinterpret_cast<const char*>(v->data()),
                   reinterpret_cast<const char*>(v->data() + v->size()));
    bytes.resize(bytes.size() - drop_tail);
    std::ofstream(p, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
};

std::string layer(int l, const std::string& what) {
  return "model.layers." + std::to_string(l) + "." + what;
}

// The rows of one layer's matrix in a llama2.c array.
std::vector<float> slice(const std::vector<float>& all, size_t layer_index, size_t rows,
                         size_t cols) {
  return {all.begin() + static_cast<long>(layer_index * rows * cols),
          all.begin() + static_cast<long>((layer_index + 1) * rows * cols)};
}

// Applies the inverse of the RoPE permutation to an HF matrix: back to llama2.c row order.
std::vector<float> unpermute(const std::vector<float>& hf, size_t heads, size_t hd, size_t cols) {
  std::vector<float> out(hf.size());
  for (size_t h = 0; h < heads; ++h)
    for (size_t j = 0; j < hd; ++j) {
      const size_t src = h * hd + static_cast<size_t>(llama2c_source_row(static_cast<int64_t>(j),
                                                                         static_cast<int64_t>(hd)));
      std::memcpy(&out[src * cols], &hf[(h * hd + j) * cols], cols * sizeof(float));
    }
  return out;
}

TEST(ImportLlama2c, PermutationMapsHalvesToInterleavedPairs) {
  // head_dim 8: HF rows 0..3 are the even llama2.c rows, 4..7 the odd ones.
  const int64_t want[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  for (int64_t j = 0; j < 8; ++j) EXPECT_EQ(llama2c_source_row(j, 8), want[j]);
}

TEST(ImportLlama2c, EveryHeadEqualsTheSourceUnderTheInversePermutation) {
  for (bool shared : {true, false}) {
    TempDir dir;
    Llama2cModel src;
    src.shared = shared;
    src.fill(shared ? 1 : 2);
    src.write(dir / "model.bin");
    std::ofstream(dir / "tokenizer.model") << "sentencepiece";
    ImportLlama2cOptions o;
    o.tokenizer = dir / "tokenizer.model";
    import_llama2c(dir / "model.bin", dir / "out", o);

    const ModelConfig m = load_hf_config(dir / "out");
    EXPECT_EQ(m.hidden, 24);
    EXPECT_EQ(m.heads, 4);
    EXPECT_EQ(m.kv_heads, 2);
    EXPECT_EQ(m.head_dim, 6);
    EXPECT_EQ(m.vocab, 33);
    EXPECT_EQ(m.max_positions, 16);
    EXPECT_EQ(m.tie_embeddings, shared);
    const io::Checkpoint ck(dir / "out");
    EXPECT_EQ(read_text_file(dir / "out" / "tokenizer.model"), "sentencepiece");
    EXPECT_EQ(test::read_f32(ck, "model.embed_tokens.weight"), src.embed);
    EXPECT_EQ(test::read_f32(ck, "model.norm.weight"), src.rms_final);
    EXPECT_EQ(ck.contains("lm_head.weight"), !shared);
    if (!shared) {
      EXPECT_EQ(test::read_f32(ck, "lm_head.weight"), src.wcls);
    }
    for (int l = 0; l < 2; ++l) {
      const size_t d = 24, kv = 12, f = 40;
      EXPECT_EQ(unpermute(test::read_f32(ck, layer(l, "self_attn.q_proj.weight")), 4, 6, d),
                slice(src.wq, l, d, d));
      EXPECT_EQ(unpermute(test::read_f32(ck, layer(l, "self_attn.k_proj.weight")), 2, 6, d),
                slice(src.wk, l, kv, d));
      EXPECT_NE(test::read_f32(ck, layer(l, "self_attn.q_proj.weight")), slice(src.wq, l, d, d));
      EXPECT_EQ(test::read_f32(ck, layer(l, "self_attn.v_proj.weight")), slice(src.wv, l, kv, d));
      EXPECT_EQ(test::read_f32(ck, layer(l, "self_attn.o_proj.weight")), slice(src.wo, l, d, d));
      EXPECT_EQ(test::read_f32(ck, layer(l, "mlp.gate_proj.weight")), slice(src.w1, l, f, d));
      EXPECT_EQ(test::read_f32(ck, layer(l, "mlp.down_proj.weight")), slice(src.w2, l, d, f));
      EXPECT_EQ(test::read_f32(ck, layer(l, "mlp.up_proj.weight")), slice(src.w3, l, f, d));
      EXPECT_EQ(test::read_f32(ck, layer(l, "input_layernorm.weight")),
                slice(src.rms_att, l, 1, d));
      EXPECT_EQ(test::read_f32(ck, layer(l, "post_attention_layernorm.weight")),
                slice(src.rms_ffn, l, 1, d));
    }
  }
}

TEST(ImportLlama2c, TruncatedOrInconsistentFilesAreRejected) {
  TempDir dir;
  Llama2cModel src;
  src.fill(3);
  src.write(dir / "trunc.bin", 4);
  try {
    import_llama2c(dir / "trunc.bin", dir / "out", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  src.heads = 5;  // 24 is not divisible by 5
  src.write(dir / "heads.bin");
  EXPECT_THROW(import_llama2c(dir / "heads.bin", dir / "out", {}), Error);
  std::ofstream(dir / "tiny.bin") << "abc";
  EXPECT_THROW(import_llama2c(dir / "tiny.bin", dir / "out", {}), Error);
  src.heads = 4;
  src.write(dir / "ok.bin");
  ImportLlama2cOptions o;
  o.tokenizer = dir / "missing.model";
  EXPECT_THROW(import_llama2c(dir / "ok.bin", dir / "out", o), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
}

}  // namespace
}  // namespace gqa::convert

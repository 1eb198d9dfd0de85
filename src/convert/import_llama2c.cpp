#include "convert/import_llama2c.h"

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "config/hf_config_writer.h"
#include "config/model_config.h"
#include "config/tensor_names.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "io/file_output.h"
#include "io/output_folder.h"
#include "io/weights_writer.h"

namespace gqa::convert {
namespace {

namespace fs = std::filesystem;

struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

// Where each llama2.c array starts (in floats from the start of the weights).
struct Layout {
  int64_t embed, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, wcls, total;
};

Layout layout_of(const ModelConfig& m, int64_t seq_len, bool shared) {
  const int64_t d = m.hidden, kv = m.kv_dim(), f = m.intermediate, L = m.layers, V = m.vocab;
  Layout l{};
  int64_t at = 0;
  auto take = [&](int64_t n) {
    const int64_t s = at;
    at += n;
    return s;
  };
  l.embed = take(V * d);
  l.rms_att = take(L * d);
  l.wq = take(L * d * d);
  l.wk = take(L * kv * d);
  l.wv = take(L * kv * d);
  l.wo = take(L * d * d);
  l.rms_ffn = take(L * d);
  l.w1 = take(L * f * d);
  l.w2 = take(L * d * f);
  l.w3 = take(L * f * d);
  l.rms_final = take(d);
  take(seq_len * m.head_dim);  // freq_cis real and imag: seq_len * head_size / 2 each
  l.wcls = shared ? l.embed : take(V * d);
  l.total = at;
  return l;
}

ModelConfig config_of(const Header& h, const std::string& source) {
  auto positive = [&](int32_t v, const char* what) {
    if (v <= 0)
      fail(ErrorKind::kParse, source + ": llama2.c header has " + what + " = " + std::to_string(v));
    return static_cast<int64_t>(v);
  };
  ModelConfig m;
  m.name = fs::path(source).stem().string();
  m.arch = Architecture::kLlama;
  m.hidden = positive(h.dim, "dim");
  m.intermediate = positive(h.hidden_dim, "hidden_dim");
  m.layers = positive(h.n_layers, "n_layers");
  m.heads = positive(h.n_heads, "n_heads");
  m.kv_heads = positive(h.n_kv_heads, "n_kv_heads");
  if (h.vocab_size == 0 || h.vocab_size == INT32_MIN)
    fail(ErrorKind::kParse,
         source + ": llama2.c header has vocab_size = " + std::to_string(h.vocab_size));
  m.vocab = h.vocab_size < 0 ? -static_cast<int64_t>(h.vocab_size) : h.vocab_size;
  m.max_positions = positive(h.seq_len, "seq_len");
  if (m.hidden % m.heads != 0 || (m.hidden / m.heads) % 2 != 0)
    fail(ErrorKind::kParse, source + ": dim " + std::to_string(m.hidden) +
                                " is not an even head size times n_heads " +
                                std::to_string(m.heads));
  m.head_dim = m.hidden / m.heads;
  m.tie_embeddings = h.vocab_size > 0;
  m.norm_eps = 1e-5;
  m.rope_theta = 10000.0;
  m.torch_dtype = "float32";
  m.bos_token_id = 1;
  m.eos_token_ids = {2};
  try {
    if (m.layers <= kMaxLayers)  // sized by the header: only within bounds
      m.layer_types.assign(static_cast<size_t>(m.layers), LayerAttention::kFull);
    m.validate();
  } catch (const Error& e) {
    fail(ErrorKind::kParse, source + ": " + e.what());
  }
  return m;
}

}  // namespace

int64_t llama2c_source_row(int64_t hf_row, int64_t head_dim) {
  const int64_t half = head_dim / 2;
  return 2 * (hf_row % half) + hf_row / half;
}

ModelConfig llama2c_config(std::span<const std::byte> file, const std::string& source) {
  if (file.size() < sizeof(Header))
    fail(ErrorKind::kParse,
         source + ": " + std::to_string(file.size()) + " bytes, shorter than the llama2.c header");
  Header h{};
  std::memcpy(&h, file.data(), sizeof(Header));
  const ModelConfig m = config_of(h, source);
  const Layout lay = layout_of(m, m.max_positions, m.tie_embeddings);
  const uint64_t want = sizeof(Header) + static_cast<uint64_t>(lay.total) * 4;
  if (file.size() != want)
    fail(ErrorKind::kParse,
         source + ": " + std::to_string(file.size()) + " bytes, but its header implies " +
             std::to_string(want) +
             (file.size() < want ? " (truncated?)" : " (not a llama2.c v0 file?)"));
  return m;
}

void import_llama2c(const fs::path& bin, const fs::path& out, const ImportLlama2cOptions& o) {
  const MappedFile file(bin);
  const std::string source = bin.string();
  const ModelConfig m = llama2c_config(file.bytes(), source);
  const Layout lay = layout_of(m, m.max_positions, m.tie_embeddings);
  if (o.tokenizer) {
    std::error_code ec;
    if (!fs::is_regular_file(*o.tokenizer, ec))
      fail(ErrorKind::kIo, o.tokenizer->string() + ": no such tokenizer file");
  }

  const auto* w = reinterpret_cast<const std::byte*>(file.bytes().data() + sizeof(Header));
  const int64_t d = m.hidden, kv = m.kv_dim(), f = m.intermediate, hd = m.head_dim;
  // name -> (offset in floats, rows, cols, rows permuted per head for RoPE)
  struct Source {
    int64_t offset, rows, cols;
    bool rope_permute;
  };
  std::map<std::string, Source> sources;
  sources["model.embed_tokens.weight"] = {lay.embed, m.vocab, d, false};
  sources["model.norm.weight"] = {lay.rms_final, 1, d, false};
  if (!m.tie_embeddings) sources["lm_head.weight"] = {lay.wcls, m.vocab, d, false};
  for (int64_t l = 0; l < m.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    sources[p + "input_layernorm.weight"] = {lay.rms_att + l * d, 1, d, false};
    sources[p + "self_attn.q_proj.weight"] = {lay.wq + l * d * d, d, d, true};
    sources[p + "self_attn.k_proj.weight"] = {lay.wk + l * kv * d, kv, d, true};
    sources[p + "self_attn.v_proj.weight"] = {lay.wv + l * kv * d, kv, d, false};
    sources[p + "self_attn.o_proj.weight"] = {lay.wo + l * d * d, d, d, false};
    sources[p + "post_attention_layernorm.weight"] = {lay.rms_ffn + l * d, 1, d, false};
    sources[p + "mlp.gate_proj.weight"] = {lay.w1 + l * f * d, f, d, false};
    sources[p + "mlp.down_proj.weight"] = {lay.w2 + l * d * f, d, f, false};
    sources[p + "mlp.up_proj.weight"] = {lay.w3 + l * f * d, f, d, false};
  }

  const std::vector<ExpectedTensor> tensors = expected_tensors(m);
  std::vector<io::TensorInfo> specs;
  for (const auto& t : tensors) specs.push_back({t.name, DType::kF32, t.shape, 0, 0});
  io::OutputFolder folder(out, o.force);
  io::WeightsWriter writer(folder.tmp(), specs, {{"format", "pt"}}, 0);
  for (const auto& t : tensors) {
    const Source& s = sources.at(t.name);
    const std::byte* base = w + s.offset * 4;
    const auto row_bytes = static_cast<size_t>(s.cols * 4);
    if (!s.rope_permute) {
      writer.write(t.name, {base, static_cast<size_t>(s.rows) * row_bytes});
      continue;
    }
    for (int64_t r = 0; r < s.rows; ++r) {
      const int64_t head = r / hd;
      const int64_t src_row = head * hd + llama2c_source_row(r % hd, hd);
      writer.write(t.name, {base + src_row * static_cast<int64_t>(row_bytes), row_bytes});
    }
  }
  writer.finish();
  io::write_text_file(folder.tmp() / "config.json", to_hf_config_json(m));
  if (o.tokenizer) io::copy_file(*o.tokenizer, folder.tmp() / "tokenizer.model");
  folder.commit();
}

}  // namespace gqa::convert

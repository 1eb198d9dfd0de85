#pragma once
// gqa import-llama2c: a llama2.c model file (the v0 "legacy" format written by its export.py)
// into a Hugging Face checkpoint folder.
//
// The file: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a
// negative vocab_size means the classifier is stored separately), then f32 weights in this
// order, each a PyTorch Linear weight [out, in]: token_embedding [vocab, dim], rms_att [L, dim],
// wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim, dim], wo [L, dim, dim], rms_ffn [L, dim],
// w1 [L, hidden, dim], w2 [L, dim, hidden], w3 [L, hidden, dim], rms_final [dim], two RoPE
// tables [seq_len, head_size / 2] (skipped), then wcls [vocab, dim] when not shared.
//
// llama2.c rotates interleaved pairs (x[2i], x[2i+1]); HF rotates halves (x[i], x[i + d/2]).
// So the rows of wq and wk are permuted within each head: HF row t * d/2 + i = llama2.c row
// 2i + t (t in {0, 1}), as transformers' convert_llama_weights_to_hf does.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

#include "config/model_config.h"

namespace gqa::convert {

struct ImportLlama2cOptions {
  std::optional<std::filesystem::path> tokenizer;  // a SentencePiece tokenizer.model to copy in
  bool force = false;
};

// Row permutation within one head of head_dim rows: the llama2.c row that HF row j comes from.
int64_t llama2c_source_row(int64_t hf_row, int64_t head_dim);

// The model a llama2.c file describes, after checking its header and that the file's size is
// what the header implies (`file`: the whole file). Throws Error (kParse) naming `source`.
ModelConfig llama2c_config(std::span<const std::byte> file, const std::string& source);

// Throws Error for a bad header, a file of the wrong size, or an unreadable tokenizer; nothing
// is left at `out` then.
void import_llama2c(const std::filesystem::path& bin, const std::filesystem::path& out,
                    const ImportLlama2cOptions& options);

}  // namespace gqa::convert

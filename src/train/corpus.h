#pragma once
// The text side of training, in the gqa process (libsentencepiece; never with libtorch): a BPE
// tokenizer trained on the corpus, the corpus encoded to ids, and a job's partial folder made
// ready for gqa-trainer.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "train/train_job.h"

namespace gqa::train {

// A SentencePiece BPE tokenizer trained with libsentencepiece's trainer: unk 0, BOS 1, EOS 2
// (Llama 2's ids), byte fallback so no text is ever unknown. Writes `out_model`. Throws Error
// when the corpus cannot be read or the vocabulary does not fit it.
void train_tokenizer(const std::filesystem::path& corpus, int64_t vocab,
                     const std::filesystem::path& out_model, int threads);

int64_t tokenizer_vocab(const std::filesystem::path& model);  // pieces in a tokenizer.model

// Encodes every non-empty line of `corpus` (UTF-8) and concatenates the ids (no BOS/EOS between
// lines). Throws Error for an unreadable file, a bad model or an empty result.
std::vector<int32_t> encode_corpus(const std::filesystem::path& tokenizer,
                                   const std::filesystem::path& corpus);

// Checks the job, then fills `out`.partial with the tokenizer (the source's, the given one, or
// trained on the data) and the train/held-out token files (held-out: the --heldout text, else
// the corpus' last 5%). A fresh model's vocab becomes the tokenizer's, BOS 1 and EOS 2.
// Returns the job gqa-trainer runs. `status` gets one line per stage.
TrainJob prepare_job(TrainJob job, const std::function<void(const std::string&)>& status);

}  // namespace gqa::train

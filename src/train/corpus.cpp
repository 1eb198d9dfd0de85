#include "train/corpus.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <fstream>
#include <unordered_map>

#include "core/error.h"
#include "io/file_output.h"
#include "io/token_file.h"
#include "tokenizer/sentencepiece_check.h"

namespace gqa::train {
namespace {

namespace fs = std::filesystem;

}  // namespace

void train_tokenizer(const fs::path& corpus, int64_t vocab, const fs::path& out_model,
                     int threads) {
  if (!fs::is_regular_file(corpus)) fail(ErrorKind::kIo, corpus.string() + ": not a readable file");
  if (vocab < 260 || vocab > 1'000'000)
    fail(ErrorKind::kInvalidArgument,
         "--vocab " + std::to_string(vocab) +
             " is out of range (260..1000000; byte fallback needs 256 ids plus the specials)");
  const std::unordered_map<std::string, std::string> args = {
      {"input", corpus.string()},
      {"vocab_size", std::to_string(vocab)},
      {"model_type", "bpe"},
      {"character_coverage", "1.0"},
      {"byte_fallback", "true"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"num_threads", std::to_string(threads)},
      {"minloglevel", "2"},
  };
  std::string model;  // serialized; the trainer itself writes no files
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, nullptr, &model);
  if (!status.ok())
    fail(ErrorKind::kInvalidArgument,
         corpus.string() + ": tokenizer training failed: " + std::string(status.message()));
  io::write_text_file(out_model, model);
}

int64_t tokenizer_vocab(const fs::path& model) {
  sentencepiece::SentencePieceProcessor sp;
  tok::load_sentencepiece_model(model, sp);
  return sp.GetPieceSize();
}

std::vector<int32_t> encode_corpus(const fs::path& tokenizer, const fs::path& corpus) {
  sentencepiece::SentencePieceProcessor sp;
  tok::load_sentencepiece_model(tokenizer, sp);
  std::ifstream in(corpus);
  if (!in) fail(ErrorKind::kIo, corpus.string() + ": cannot open");
  std::vector<int32_t> out;
  std::vector<int> ids;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (const auto s = sp.Encode(line, &ids); !s.ok())
      fail(ErrorKind::kParse, corpus.string() + ": " + s.ToString());
    out.insert(out.end(), ids.begin(), ids.end());
  }
  if (in.bad()) fail(ErrorKind::kIo, corpus.string() + ": read error");
  if (out.empty()) fail(ErrorKind::kInvalidArgument, corpus.string() + ": no text to train on");
  return out;
}

TrainJob prepare_job(TrainJob job, const std::function<void(const std::string&)>& status) {
  auto say = [&](const std::string& s) {
    if (status) status(s);
  };
  check_job(job);
  const fs::path partial = partial_dir(job.out);
  if (!job.resume && fs::exists(partial)) fs::remove_all(partial);
  fs::create_directories(partial);

  const fs::path tokenizer = partial / kTokenizerFile;
  if (!fs::exists(tokenizer)) {
    if (job.source) {
      if (!fs::exists(*job.source / kTokenizerFile))
        fail(ErrorKind::kIo, job.source->string() + ": no tokenizer.model to train with");
      io::copy_file(*job.source / kTokenizerFile, tokenizer);
    } else if (job.tokenizer) {
      tokenizer_vocab(*job.tokenizer);  // a readable model, or a clear error
      io::copy_file(*job.tokenizer, tokenizer);
    } else {
      say("training a " + std::to_string(job.vocab) + "-token BPE tokenizer on " +
          job.data.string());
      train_tokenizer(job.data, job.vocab, tokenizer, job.threads);
    }
  }
  job.tokenizer = tokenizer;
  if (job.config) {
    job.config->vocab = tokenizer_vocab(tokenizer);
    job.config->bos_token_id = 1;
    job.config->eos_token_ids = {2};
  }

  const bool cached = job.token_cache && fs::exists(*job.token_cache / kTrainTokensFile) &&
                      fs::exists(*job.token_cache / kHeldoutTokensFile);
  if (cached) {
    for (const char* f : {kTrainTokensFile, kHeldoutTokensFile})
      io::copy_file(*job.token_cache / f, partial / f);
  } else if (!fs::exists(partial / kTrainTokensFile) || !fs::exists(partial / kHeldoutTokensFile)) {
    say("tokenizing " + job.data.string());
    std::vector<int32_t> train = encode_corpus(tokenizer, job.data);
    std::vector<int32_t> heldout;
    if (job.heldout) {
      heldout = encode_corpus(tokenizer, *job.heldout);
    } else {
      const auto n = train.size() / 20;
      heldout.assign(train.end() - static_cast<std::ptrdiff_t>(n), train.end());
      train.resize(train.size() - n);
    }
    io::write_token_file(partial / kHeldoutTokensFile, heldout);
    io::write_token_file(partial / kTrainTokensFile, train);
    if (job.token_cache) {
      fs::create_directories(*job.token_cache);
      for (const char* f : {kTrainTokensFile, kHeldoutTokensFile})
        io::copy_file(partial / f, *job.token_cache / f);
    }
  }
  return job;
}

}  // namespace gqa::train

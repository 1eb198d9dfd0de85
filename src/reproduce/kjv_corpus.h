#pragma once
// The demo's built-in data: the public-domain King James Bible, as Debian's bible-kjv prints it
// (`bible -f Gen1:1-Rev22:21`, one verse per line after its reference), split by book.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gqa::reproduce {

struct CorpusSplit {
  std::filesystem::path train, heldout;  // one verse per line, references removed
  int64_t train_verses = 0, heldout_verses = 0;
  std::vector<std::string> heldout_books;  // bible's abbreviations, e.g. "Josh"
};

// Book i (0-based, in canonical order) is held out when i % 11 == 5: Joshua, Esther, Hosea,
// Malachi, Philippians and 2 Peter (narrative, prophecy and letters; about 4.5% of the text).
bool is_heldout_book(int64_t index);

// Splits `bible`'s output (the lines as it prints them) into the two files under `dir`.
// Throws Error when the text has no verses.
CorpusSplit split_kjv(const std::string& bible_output, const std::filesystem::path& dir);

// Runs the bible program and splits its text. Throws Error when it is missing (Debian package
// bible-kjv; scripts/install-deps.sh installs it) or fails.
CorpusSplit write_kjv_split(const std::filesystem::path& dir);

}  // namespace gqa::reproduce

#include "reproduce/kjv_corpus.h"

#include <cctype>
#include <cstdio>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "io/file_output.h"

namespace gqa::reproduce {
namespace {

// "1Sm12:3" -> "1Sm": the reference without its chapter:verse.
std::string book_of(const std::string& ref) {
  size_t end = ref.size();
  while (end > 0 && (std::isdigit(static_cast<unsigned char>(ref[end - 1])) || ref[end - 1] == ':'))
    --end;
  // A leading digit belongs to the book ("1Sm"), so never strip to nothing.
  return end == 0 ? ref : ref.substr(0, end);
}

}  // namespace

bool is_heldout_book(int64_t index) {
  return index % 11 == 5;
}

CorpusSplit split_kjv(const std::string& bible_output, const std::filesystem::path& dir) {
  std::istringstream in(bible_output);
  std::string line, book, train, heldout;
  int64_t index = -1;
  CorpusSplit split;
  while (std::getline(in, line)) {
    const size_t space = line.find_first_of(" \t");
    if (space == std::string::npos) continue;
    const size_t text = line.find_first_not_of(" \t", space);
    if (text == std::string::npos) continue;
    const std::string b = book_of(line.substr(0, space));
    if (b != book) {
      book = b;
      ++index;
      if (is_heldout_book(index)) split.heldout_books.push_back(b);
    }
    const bool held = is_heldout_book(index);
    (held ? heldout : train) += line.substr(text) + "\n";
    ++(held ? split.heldout_verses : split.train_verses);
  }
  if (split.train_verses == 0 || split.heldout_verses == 0)
    fail(ErrorKind::kParse, "the bible program printed no verses to split");
  std::filesystem::create_directories(dir);
  split.train = dir / "train.txt";
  split.heldout = dir / "heldout.txt";
  io::write_text_file(split.train, train);
  io::write_text_file(split.heldout, heldout);
  return split;
}

CorpusSplit write_kjv_split(const std::filesystem::path& dir) {
  const char* command = "bible -f Gen1:1-Rev22:21 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command, "r"), pclose);
  if (!pipe) fail(ErrorKind::kIo, "cannot run the bible program");
  std::string out;
  char buf[1 << 16];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, pipe.get())) > 0) out.append(buf, n);
  const int status = pclose(pipe.release());
  if (status != 0 || out.empty())
    fail(ErrorKind::kIo,
         "the demo's text comes from the `bible` program (Debian package bible-kjv, which "
         "scripts/install-deps.sh installs); it is missing or failed. Or give --data and "
         "--heldout");
  return split_kjv(out, dir);
}

}  // namespace gqa::reproduce

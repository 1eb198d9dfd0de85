#pragma once
// A small corpus with structure to learn, for the training tests that run the binaries:
// counting sentences in words ("the one and the two came after the eight.").
#include <filesystem>
#include <fstream>

namespace gqa::test {

inline std::filesystem::path write_corpus(const std::filesystem::path& dir) {
  const char* words[] = {"one", "two", "three", "four", "five", "six", "seven", "eight"};
  std::ofstream out(dir / "corpus.txt");
  for (int i = 0; i < 1500; ++i)
    out << "the " << words[i % 8] << " and the " << words[(i + 1) % 8] << " came after the "
        << words[(i + 7) % 8] << ".\n";
  return dir / "corpus.txt";
}

}  // namespace gqa::test

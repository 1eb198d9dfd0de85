#include "tokenizer/sentencepiece_check.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include <sentencepiece_processor.h>

#include "core/error.h"
#include "core/text_file.h"

namespace gqa::tok {
namespace {

// Protobuf wire format, as much as a ModelProto needs: varints, and fields of wire type 0
// (varint), 1 (64-bit), 2 (length-delimited) and 5 (32-bit). Groups (3, 4) are refused.
class WireReader {
 public:
  WireReader(std::string_view data, const std::string& what) : data_(data), what_(what) {}

  bool done() const { return pos_ >= data_.size(); }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) bad("a varint runs past the end");
      const auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    bad("a varint is longer than 10 bytes");
  }

  // The next field: its number and wire type; `bytes` holds a length-delimited field's payload.
  struct Field {
    uint64_t number;
    int type;
    std::string_view bytes;
  };
  Field next() {
    const uint64_t key = varint();
    Field f{key >> 3, static_cast<int>(key & 7), {}};
    if (f.number == 0) bad("a field numbered 0");
    switch (f.type) {
      case 0:
        varint();
        break;
      case 1:
        skip(8);
        break;
      case 2: {
        const uint64_t n = varint();
        if (n > data_.size() - pos_) bad("a field's length runs past the end");
        f.bytes = data_.substr(pos_, static_cast<size_t>(n));
        pos_ += static_cast<size_t>(n);
        break;
      }
      case 5:
        skip(4);
        break;
      default:
        bad("wire type " + std::to_string(f.type) + " is not used by SentencePiece models");
    }
    return f;
  }

  [[noreturn]] void bad(const std::string& why) const {
    fail(ErrorKind::kParse, what_ + ": not a SentencePiece model (" + why + ")");
  }

 private:
  void skip(size_t n) {
    if (n > data_.size() - pos_) bad("a field runs past the end");
    pos_ += n;
  }
  std::string_view data_;
  std::string what_;
  size_t pos_ = 0;
};

// darts-clone's unit: label (with the leaf flag), offset to the children, has_leaf, value.
uint32_t unit_label(uint32_t u) {
  return u & ((1u << 31) | 0xffu);
}
uint32_t unit_offset(uint32_t u) {
  return (u >> 10) << ((u & (1u << 9)) >> 6);
}
bool unit_has_leaf(uint32_t u) {
  return (u >> 8) & 1u;
}
uint32_t unit_value(uint32_t u) {
  return u & ((1u << 31) - 1);
}

}  // namespace

void check_precompiled_charsmap(std::string_view blob, const std::string& what) {
  if (blob.empty()) return;
  auto bad = [&](const std::string& why) {
    fail(ErrorKind::kParse, what + ": corrupt precompiled_charsmap (" + why + ")");
  };
  // As SentencePiece decodes it: the trie's size, then the trie, then the strings.
  if (blob.size() <= 4) bad("shorter than its header");
  uint32_t trie_bytes = 0;
  std::memcpy(&trie_bytes, blob.data(), 4);  // little-endian, as written
  if (trie_bytes >= blob.size() - 4) bad("the trie runs past the end");
  if (trie_bytes % 4 != 0 || trie_bytes == 0) bad("the trie is not a whole number of units");
  const size_t n = trie_bytes / 4;
  std::vector<uint32_t> units(n);
  std::memcpy(units.data(), blob.data() + 4, trie_bytes);
  const std::string_view strings = blob.substr(4 + trie_bytes);
  if (strings.back() != '\0') bad("the replacement strings do not end in NUL");

  // Every node a lookup can reach, from the root, over every byte: darts-clone reads
  // units[node ^ byte] before it compares the label, and a leaf's value at units[child].
  std::vector<uint8_t> seen(n, 0);
  std::vector<uint32_t> stack{unit_offset(units[0])};
  if (stack.back() >= n) bad("the root points outside the trie");
  seen[stack.back()] = 1;
  while (!stack.empty()) {
    const uint32_t node = stack.back();
    stack.pop_back();
    for (uint32_t c = 0; c < 256; ++c) {
      const uint32_t at = node ^ c;
      if (at >= n) bad("a transition leaves the trie");
      const uint32_t u = units[at];
      if (unit_label(u) != c) continue;
      const uint32_t child = at ^ unit_offset(u);
      if (child >= n) bad("an offset leaves the trie");
      if (unit_has_leaf(u) && unit_value(units[child]) >= strings.size())
        bad("a replacement lies outside the strings");
      if (!seen[child]) {
        seen[child] = 1;
        stack.push_back(child);
      }
    }
  }
}

void check_sentencepiece_model(std::string_view model, const std::string& source) {
  WireReader top(model, source);
  int64_t pieces = 0;
  while (!top.done()) {
    const WireReader::Field f = top.next();
    if (f.number == 1) {
      if (f.type != 2) top.bad("a piece is not a message");
      WireReader piece(f.bytes, source);
      while (!piece.done()) piece.next();
      ++pieces;
    } else if (f.number == 3 || f.number == 5) {
      if (f.type != 2) top.bad("a normalizer spec is not a message");
      WireReader spec(f.bytes, source);
      while (!spec.done()) {
        const WireReader::Field g = spec.next();
        if (g.number == 2 && g.type == 2)
          check_precompiled_charsmap(
              g.bytes, source + (f.number == 3 ? " normalizer_spec" : " denormalizer_spec"));
      }
    }
  }
  if (pieces == 0) top.bad("no pieces");
}

void load_sentencepiece_model(const std::filesystem::path& model,
                              sentencepiece::SentencePieceProcessor& sp) {
  const std::string bytes = read_text_file(model, kMaxTokenizerFileBytes);
  check_sentencepiece_model(bytes, model.string());
  const auto status = sp.LoadFromSerializedProto(bytes);
  if (!status.ok())
    fail(ErrorKind::kParse,
         model.string() + ": cannot load SentencePiece model: " + status.ToString());
}

}  // namespace gqa::tok

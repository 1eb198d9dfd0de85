#include "io/safetensors_header.h"

#include <algorithm>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_parse.h"

namespace gqa::io {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& source, const std::string& why) {
  fail(ErrorKind::kParse, source + ": invalid safetensors header: " + why);
}

DType parse_st_dtype(const std::string& s, const std::string& source, const std::string& name) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kF8E4M3, DType::kF8E5M2,
                  DType::kI8, DType::kU8, DType::kI32, DType::kI64})
    if (s == safetensors_name(t)) return t;
  bad(source, "tensor '" + name + "' has unknown dtype '" + s + "'");
}

uint64_t read_u64(const json& v, const std::string& source, const std::string& what) {
  if (!v.is_number_unsigned()) bad(source, what + " must be a non-negative integer");
  return v.get<uint64_t>();
}

}  // namespace

int64_t TensorInfo::numel() const {
  return shape_numel(shape, name);
}

int64_t shape_numel(const std::vector<int64_t>& shape, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      fail(ErrorKind::kParse, what + ": negative dimension in shape " + shape_string(shape));
    if (__builtin_mul_overflow(n, d, &n))
      fail(ErrorKind::kParse, what + ": shape " + shape_string(shape) + " overflows");
  }
  return n;
}

namespace {

// Counts the header's top-level keys without building anything, stopping past `limit`: a header
// of a million tiny entries is refused before the parser spends seconds and gigabytes on it.
class TopLevelKeyCounter : public nlohmann::json_sax<json> {
 public:
  explicit TopLevelKeyCounter(uint64_t limit) : limit_(limit) {}
  uint64_t count() const { return count_; }

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth_, true; }
  bool end_object() override { return --depth_, true; }
  bool start_array(std::size_t) override { return ++depth_, true; }
  bool end_array() override { return --depth_, true; }
  bool key(string_t&) override { return depth_ != 1 || ++count_ <= limit_; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  uint64_t limit_, count_ = 0;
  int depth_ = 0;
};

}  // namespace

SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file,
                                           const std::string& source) {
  if (file.size() < 8)
    bad(source,
        "file is " + std::to_string(file.size()) + " bytes, shorter than the 8-byte length");
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);  // little-endian host
  if (n > kMaxHeaderBytes) bad(source, "header length " + std::to_string(n) + " exceeds 100 MiB");
  if (n > file.size() - 8)
    bad(source, "header length " + std::to_string(n) + " runs past the end of the " +
                    std::to_string(file.size()) + "-byte file (truncated?)");
  if (n < 2) bad(source, "header length " + std::to_string(n) + " is too short for JSON");
  const auto* text = reinterpret_cast<const char*>(file.data() + 8);
  if (text[0] != '{') bad(source, "header does not start with '{'");
  if (json_depth(std::string_view(text, n)) > kMaxJsonDepth)
    bad(source, "header JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  TopLevelKeyCounter counter(kMaxTensorsPerFile + 1);  // + "__metadata__"
  json::sax_parse(text, text + n, &counter, json::input_format_t::json, false);
  if (counter.count() > kMaxTensorsPerFile + 1)
    bad(source, "the header lists more than " + std::to_string(kMaxTensorsPerFile) +
                    " tensors, more than any model holds in one file");
  json j;
  try {
    j = json::parse(text, text + n);
  } catch (const json::exception& e) {
    bad(source, std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) bad(source, "header is not a JSON object");

  SafetensorsHeader h;
  h.data_offset = 8 + n;
  const uint64_t data_size = file.size() - h.data_offset;
  for (const auto& [key, value] : j.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) bad(source, "__metadata__ must be an object of strings");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) bad(source, "__metadata__['" + mk + "'] must be a string");
        h.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) bad(source, "entry '" + key + "' is not an object");
    if (!value.contains("dtype") || !value["dtype"].is_string())
      bad(source, "tensor '" + key + "' has no string 'dtype'");
    if (!value.contains("shape") || !value["shape"].is_array())
      bad(source, "tensor '" + key + "' has no 'shape' array");
    if (!value.contains("data_offsets") || !value["data_offsets"].is_array() ||
        value["data_offsets"].size() != 2)
      bad(source, "tensor '" + key + "' has no 'data_offsets' pair");
    TensorInfo t;
    t.name = key;
    t.dtype = parse_st_dtype(value["dtype"].get<std::string>(), source, key);
    for (const auto& d : value["shape"]) {
      const uint64_t dim = read_u64(d, source, "tensor '" + key + "' shape entry");
      if (dim > static_cast<uint64_t>(INT64_MAX))
        bad(source, "tensor '" + key + "' dimension too large");
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    t.begin = read_u64(value["data_offsets"][0], source, "tensor '" + key + "' data_offsets");
    t.end = read_u64(value["data_offsets"][1], source, "tensor '" + key + "' data_offsets");
    if (t.begin > t.end) bad(source, "tensor '" + key + "' has data_offsets with begin > end");
    if (t.end > data_size)
      bad(source, "tensor '" + key + "' ends at byte " + std::to_string(t.end) +
                      " but the data section has " + std::to_string(data_size) + " (truncated?)");
    int64_t numel = 0;
    try {
      numel = shape_numel(t.shape, "tensor '" + key + "'");
    } catch (const Error& e) {
      bad(source, e.what());
    }
    uint64_t want = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(numel),
                               static_cast<uint64_t>(dtype_size(t.dtype)), &want) ||
        want != t.end - t.begin)
      bad(source, "tensor '" + key + "' is " + std::string(dtype_name(t.dtype)) + " " +
                      shape_string(t.shape) + " but its data range holds " +
                      std::to_string(t.end - t.begin) + " bytes");
    h.tensors.push_back(std::move(t));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (const auto& t : h.tensors) {
    if (t.begin < expected) bad(source, "tensor '" + t.name + "' overlaps the tensor before it");
    if (t.begin > expected) bad(source, "hole in the data section before tensor '" + t.name + "'");
    expected = t.end;
  }
  if (expected != data_size)
    bad(source,
        std::to_string(data_size - expected) + " bytes after the last tensor belong to none");
  return h;
}

std::string make_safetensors_header(std::vector<TensorInfo>& tensors,
                                    const std::map<std::string, std::string>& metadata) {
  json j = json::object();
  if (!metadata.empty()) j["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (auto& t : tensors) {
    const uint64_t n =
        static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(dtype_size(t.dtype));
    t.begin = offset;
    t.end = offset + n;
    offset = t.end;
    j[t.name] = {{"dtype", std::string(safetensors_name(t.dtype))},
                 {"shape", t.shape},
                 {"data_offsets", {t.begin, t.end}}};
  }
  std::string text = j.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  return text;
}

}  // namespace gqa::io

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/safetensors_file.h"
#include "io/safetensors_header.h"
#include "safetensors_fixtures.h"
#include "temp_dir.h"

namespace gqa::io {
namespace {

using test::raw_safetensors;
using test::TempDir;

std::string header_error(const std::vector<std::byte>& file) {
  try {
    parse_safetensors_header(file, "x.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void write_config(const std::filesystem::path& dir) {
  test::write_bytes(dir / "config.json", {std::byte{'{'}, std::byte{'}'}});
}

TEST(Safetensors, WriteThenReadGivesIdenticalBytesNamesShapesDtypesAndMetadata) {
  TempDir dir;
  const auto tensors = test::random_tensors(1, 40);
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "round trip"}};
  const auto files = test::write_tensors(dir.path(), tensors, meta, 0);
  ASSERT_EQ(files.size(), 1u);
  const SafetensorsFile f(files[0]);
  EXPECT_EQ(f.metadata(), meta);
  EXPECT_EQ(f.tensors().size(), tensors.size());
  for (const auto& t : tensors) {
    const TensorView v = f.view(t.info.name);
    EXPECT_EQ(v.dtype, t.info.dtype) << t.info.name;
    EXPECT_EQ(v.shape, t.info.shape) << t.info.name;
    ASSERT_EQ(v.data.size(), t.bytes.size());
    EXPECT_TRUE(std::equal(v.data.begin(), v.data.end(), t.bytes.begin())) << t.info.name;
  }
}

TEST(Safetensors, ShardedWriteReadsBackEqualToSingleFile) {
  TempDir single, sharded;
  const auto tensors = test::random_tensors(2, 60);
  write_config(single.path());
  write_config(sharded.path());
  test::write_tensors(single.path(), tensors, {{"format", "pt"}}, 0);
  const auto files = test::write_tensors(sharded.path(), tensors, {{"format", "pt"}}, 2000);
  EXPECT_GT(files.size(), 2u);
  const Checkpoint a(single.path()), b(sharded.path());
  EXPECT_FALSE(a.sharded());
  EXPECT_TRUE(b.sharded());
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (const auto& t : tensors) {
    const auto va = a.view(t.info.name), vb = b.view(t.info.name);
    EXPECT_EQ(va.dtype, vb.dtype);
    EXPECT_EQ(va.shape, vb.shape);
    EXPECT_TRUE(std::equal(va.data.begin(), va.data.end(), vb.data.begin(), vb.data.end()));
  }
  EXPECT_EQ(a.total_bytes(), b.total_bytes());
  // Every shard but the last stays under the limit unless one tensor alone exceeds it.
  for (const auto& f : files) {
    const SafetensorsFile s(f);
    uint64_t bytes = 0;
    for (const auto& t : s.tensors()) bytes += t.nbytes();
    EXPECT_TRUE(bytes <= 2000 || s.tensors().size() == 1) << f;
  }
}

TEST(Safetensors, DataSectionIsAlignedToEightBytes) {
  TempDir dir;
  const auto files = test::write_tensors(dir.path(), test::random_tensors(3, 5), {}, 0);
  const auto bytes = test::raw_safetensors("", 0);  // just to use the helper's layout
  (void)bytes;
  std::ifstream in(files[0], std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
}

TEST(Safetensors, WriterRejectsOutOfOrderOverlongAndIncompleteTensors) {
  TempDir dir;
  std::vector<TensorInfo> specs{{"a", DType::kF32, {2}, 0, 0}, {"b", DType::kF32, {1}, 0, 0}};
  std::vector<std::byte> eight(8), twelve(12);
  {
    WeightsWriter w(dir.path(), specs, {}, 0);
    EXPECT_THROW(w.write("b", {eight.data(), 4}), Error);
  }
  {
    WeightsWriter w(dir.path(), specs, {}, 0);
    EXPECT_THROW(w.write("a", twelve), Error);
  }
  {
    WeightsWriter w(dir.path(), specs, {}, 0);
    w.write("a", eight);
    EXPECT_THROW(w.finish(), Error);
  }
  specs.push_back({"a", DType::kF16, {1}, 0, 0});
  EXPECT_THROW(WeightsWriter(dir.path(), specs, {}, 0), Error);
}

const char* kGood =
    R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}})";

TEST(SafetensorsHeader, AValidHeaderParses) {
  const auto h = parse_safetensors_header(raw_safetensors(kGood, 32), "x");
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(h.tensors[0].name, "a");
  EXPECT_EQ(h.tensors[1].dtype, DType::kBF16);
  EXPECT_EQ(h.metadata.at("format"), "pt");
}

TEST(SafetensorsHeader, MalformedFilesGiveErrorsThatSayWhat) {
  struct Case {
    std::vector<std::byte> file;
    std::string says;
  };
  const std::vector<Case> cases = {
      {std::vector<std::byte>(5), "shorter than the 8-byte length"},
      {raw_safetensors(kGood, 31), "truncated"},
      {raw_safetensors(kGood, 33), "belong to none"},
      {raw_safetensors(kGood, 32, uint64_t{1} << 62), "exceeds 100 MiB"},
      {raw_safetensors(kGood, 32, 5000), "runs past the end"},
      {raw_safetensors(R"({"a": )", 0), "malformed JSON"},
      {raw_safetensors(R"([1,2,3])", 0), "start with '{'"},
      {raw_safetensors(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8),
       "unknown dtype"},
      {raw_safetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "holds 8 bytes"},
      {raw_safetensors(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "non-negative"},
      {raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
       "begin > end"},
      {raw_safetensors(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           12),
       "overlaps"},
      {raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "hole"},
      {raw_safetensors(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "data_offsets"},
      {raw_safetensors(
           R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
       "overflows"},
      {raw_safetensors(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})", 8),
       "truncated"},
      {raw_safetensors(R"({"__metadata__":{"n":1}})", 0), "__metadata__"},
      {raw_safetensors(R"({"a":5})", 0), "not an object"},
  };
  for (const auto& c : cases) {
    const std::string msg = header_error(c.file);
    EXPECT_NE(msg.find(c.says), std::string::npos)
        << "want '" << c.says << "', got '" << msg << "'";
    EXPECT_NE(msg.find("x.safetensors"), std::string::npos) << msg;
  }
}

TEST(Checkpoint, FolderErrorsNameWhatIsMissing) {
  TempDir dir;
  auto error_of = [&] {
    try {
      Checkpoint ck(dir.path());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of().find("no config.json"), std::string::npos);
  write_config(dir.path());
  EXPECT_NE(error_of().find("no model.safetensors"), std::string::npos);
  test::write_bytes(dir / "model.safetensors.index.json", {std::byte{'{'}, std::byte{'x'}});
  EXPECT_NE(error_of().find("malformed JSON"), std::string::npos);
  const std::string idx = R"({"weight_map": {"a": "model-00001-of-00002.safetensors"}})";
  std::ofstream(dir / "model.safetensors.index.json") << idx;
  EXPECT_NE(error_of().find("cannot open"), std::string::npos);
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map": {"a": "../x"}})";
  EXPECT_NE(error_of().find("not a file in the folder"), std::string::npos);
  // An index naming a tensor the shard lacks.
  test::write_tensors(dir.path(), test::random_tensors(4, 3), {}, 0);
  std::filesystem::rename(dir / "model.safetensors", dir / "shard.safetensors");
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"weight_map": {"t0.bias": "shard.safetensors", "t1.weight": "shard.safetensors", "t2.weight": "shard.safetensors", "zzz": "shard.safetensors"}})";
  EXPECT_NE(error_of().find("'zzz' is not in"), std::string::npos);
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"weight_map": {"t0.bias": "shard.safetensors", "t1.weight": "shard.safetensors"}})";
  EXPECT_NE(error_of().find("not mapped to this file"), std::string::npos);
}

}  // namespace
}  // namespace gqa::io

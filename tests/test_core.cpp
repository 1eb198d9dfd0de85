#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "core/byte_size.h"
#include "core/checked_math.h"
#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/huge_buffer.h"
#include "core/json_parse.h"
#include "core/kv_dtype.h"

namespace gqa {
namespace {

TEST(ByteSize, BinaryAndDecimalUnitsParse) {
  EXPECT_EQ(parse_byte_size("80GiB"), int64_t{80} << 30);
  EXPECT_EQ(parse_byte_size("80G"), int64_t{80} << 30);
  EXPECT_EQ(parse_byte_size("24GB"), int64_t{24'000'000'000});
  EXPECT_EQ(parse_byte_size("512 MiB"), int64_t{512} << 20);
  EXPECT_EQ(parse_byte_size("1.5TiB"), int64_t{3} << 39);
  EXPECT_EQ(parse_byte_size("4096"), 4096);
  EXPECT_EQ(parse_byte_size("1kib"), 1024);
}

TEST(ByteSize, GarbageZeroNegativeAndHugeAreErrors) {
  for (const char* bad : {"", "GiB", "abc", "80XB", "0", "-5GiB", "0.0001B", "2EiB", "1e30"}) {
    EXPECT_THROW(parse_byte_size(bad), Error) << bad;
  }
  // Zero where it means something (weights of 0: the KV cache alone), never a negative size.
  EXPECT_EQ(parse_byte_size("0", true), 0);
  EXPECT_EQ(parse_byte_size("0GiB", true), 0);
  EXPECT_THROW(parse_byte_size("-1", true), Error);
  EXPECT_THROW(parse_byte_size("-0", true), Error);
}

TEST(KvDtype, VectorBytesPerFormat) {
  EXPECT_EQ(kv_vector_bytes(KvDtype::kF32, 128), 512);
  EXPECT_EQ(kv_vector_bytes(KvDtype::kF16, 128), 256);
  EXPECT_EQ(kv_vector_bytes(KvDtype::kBF16, 128), 256);
  EXPECT_EQ(kv_vector_bytes(KvDtype::kF8E4M3, 128), 128);
  EXPECT_EQ(kv_vector_bytes(KvDtype::kF8E5M2, 128), 128);
  EXPECT_EQ(kv_vector_bytes(KvDtype::kInt8, 128), 128 + 4);  // one f32 scale per vector
  EXPECT_EQ(kv_vector_bytes(KvDtype::kQ8_0, 128), 4 * 34);
  EXPECT_EQ(kv_vector_bytes(KvDtype::kQ4_0, 128), 4 * 18);
  EXPECT_EQ(kv_vector_bytes(KvDtype::kQ8_0, 48), 2 * 34);  // 48 rounds up to two blocks
}

TEST(KvDtype, BitsPerValueMatchLlamaCppFigures) {
  EXPECT_DOUBLE_EQ(kv_bits_per_value(KvDtype::kQ8_0, 128), 8.5);
  EXPECT_DOUBLE_EQ(kv_bits_per_value(KvDtype::kQ4_0, 128), 4.5);
  EXPECT_DOUBLE_EQ(kv_bits_per_value(KvDtype::kF16, 64), 16.0);
  EXPECT_DOUBLE_EQ(kv_bits_per_value(KvDtype::kInt8, 128), 8.25);
}

TEST(KvDtype, NamesRoundTripAndUnknownIsAnError) {
  for (KvDtype t : all_kv_dtypes()) EXPECT_EQ(parse_kv_dtype(kv_dtype_name(t)), t);
  EXPECT_EQ(parse_kv_dtype("fp8"), KvDtype::kF8E4M3);
  EXPECT_THROW(parse_kv_dtype("q5_1"), Error);
  EXPECT_THROW(parse_kv_dtype(""), Error);
}

TEST(DType, SizesAndSpellings) {
  EXPECT_EQ(dtype_size(parse_dtype("bfloat16")), 2);
  EXPECT_EQ(dtype_size(parse_dtype("F32")), 4);
  EXPECT_EQ(parse_dtype("float16"), DType::kF16);
  EXPECT_EQ(parse_dtype("fp8"), DType::kF8E4M3);
  EXPECT_EQ(safetensors_name(DType::kF8E5M2), "F8_E5M2");
  EXPECT_THROW(parse_dtype("complex64"), Error);
}

TEST(CheckedMath, OverflowThrowsAndCeilDivRoundsUp) {
  EXPECT_THROW(checked_mul(int64_t{1} << 40, int64_t{1} << 40, "x"), Error);
  EXPECT_THROW(checked_add(INT64_MAX, 1, "x"), Error);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    const int64_t a = static_cast<int64_t>(rng() % 100000);
    const int64_t b = 1 + static_cast<int64_t>(rng() % 997);
    const int64_t c = ceil_div(a, b);
    EXPECT_GE(c * b, a);
    EXPECT_LT((c - 1) * b, a);
  }
}

// Buffers of 2 MiB and more start on a 2 MiB boundary (so that huge pages can back them), smaller
// ones on 64 bytes; a request the machine cannot meet is an Error naming what it was for.
TEST(HugeBuffer, AlignsLargeBuffersForHugePagesAndNamesAFailedRequest) {
  const HugeBuffer big = allocate_huge_buffer(size_t{5} << 20, "test");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.get()) % (size_t{2} << 20), 0u);
  big[(size_t{5} << 20) - 1] = std::byte{1};  // the whole size is usable
  const HugeBuffer small = allocate_huge_buffer(100, "test");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.get()) % 64, 0u);
#ifndef __SANITIZE_ADDRESS__  // ASan's allocator aborts on such a request instead of failing it
  try {
    allocate_huge_buffer(SIZE_MAX / 2, "the moon");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bytes of the moon"), std::string::npos) << e.what();
  }
#endif
}

TEST(CpuFeatures, GqaIsaLowersTheLevelAndDropsTheExtensionsAboveIt) {
  const CpuFeatures hw = detect_cpu_features(nullptr);
  EXPECT_EQ(detect_cpu_features("").isa, hw.isa);
  const CpuFeatures scalar = detect_cpu_features("scalar");
  EXPECT_EQ(scalar.isa, Isa::kScalar);
  EXPECT_FALSE(scalar.avx512vnni || scalar.avx512vbmi || scalar.avx512bf16);
  if (hw.at_least(Isa::kAvx2)) {
    const CpuFeatures avx2 = detect_cpu_features("avx2");
    EXPECT_EQ(avx2.isa, Isa::kAvx2);
    EXPECT_TRUE(avx2.at_least(Isa::kScalar) && !avx2.at_least(Isa::kAvx512));
    EXPECT_FALSE(avx2.avx512vnni || avx2.avx512vbmi || avx2.avx512bf16);
  }
  if (hw.at_least(Isa::kAvx512)) {
    const CpuFeatures full = detect_cpu_features("avx512");
    EXPECT_EQ(full.isa, Isa::kAvx512);
    EXPECT_EQ(full.avx512bf16, hw.avx512bf16);
    const CpuFeatures foundation = detect_cpu_features("avx512f");  // the level, no extensions
    EXPECT_EQ(foundation.isa, Isa::kAvx512);
    EXPECT_FALSE(foundation.avx512vnni || foundation.avx512vbmi || foundation.avx512bf16);
  } else {
    EXPECT_THROW(detect_cpu_features("avx512"), Error);  // more than the CPU has
    EXPECT_THROW(detect_cpu_features("avx512f"), Error);
  }
  EXPECT_FALSE(!hw.at_least(Isa::kAvx512) && (hw.avx512vnni || hw.avx512vbmi));
}

TEST(CpuFeatures, AnUnknownLevelIsAnErrorThatNamesTheLevels) {
  try {
    detect_cpu_features("avx1024");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("avx512, avx512f, avx2 or scalar"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(isa_name(Isa::kAvx512), "avx512");
  EXPECT_EQ(isa_name(Isa::kAvx2), "avx2");
  EXPECT_EQ(isa_name(Isa::kScalar), "scalar");
}

TEST(JsonParse, DepthSkipsStringsAndStopsPastTheLimit) {
  EXPECT_EQ(json_depth("{}"), 1);
  EXPECT_EQ(json_depth(R"({"a": [1, {"b": "[[[{{{"}], "c": "\"]"})"), 3);
  EXPECT_EQ(json_depth("[[[[]]]]"), 4);
  EXPECT_EQ(json_depth(std::string(100000, '[')), kMaxJsonDepth + 1);
  EXPECT_EQ(json_depth(std::string(64, '[') + std::string(64, ']')), 64);
}

TEST(JsonParse, TooDeepAndMalformedAreOurErrorsNamingTheSource) {
  try {
    parse_json(std::string(65, '[') + std::string(65, ']'), "x.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "x.json: JSON nested deeper than 64 levels");
  }
  try {
    parse_json("{\"a\": }", "y.json");
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("y.json: malformed JSON at byte 7", 0), 0u) << m;
    EXPECT_EQ(m.find("[json.exception"), std::string::npos) << m;
  }
  EXPECT_EQ(parse_json(R"({"k": [1, 2]})", "z")["k"][1], 2);
}

}  // namespace
}  // namespace gqa

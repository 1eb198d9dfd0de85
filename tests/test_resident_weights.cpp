// model/resident_weights.h: matrices copied out of their source bytes keep their values, and
// matrices that shared bytes (tied embeddings, row ranges of a fused matrix) still share them.
#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <vector>

#include "core/mapped_file.h"
#include "model/resident_weights.h"
#include "temp_dir.h"

namespace gqa::model {
namespace {

TEST(ResidentWeights, CopiesKeepValuesAndSharing) {
  // The sources are a mapped file, as a checkpoint's tensors are (their pages get released).
  std::vector<char> bytes(4096 * 3);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 % 251);
  test::TempDir tmp;
  std::ofstream(tmp.path() / "w.bin", std::ios::binary).write(bytes.data(), std::ssize(bytes));
  const MappedFile file(tmp.path() / "w.bin");
  const std::byte* base = file.bytes().data();
  // A fused [6, 256] f32 matrix (6 KiB) and two views of its rows; a tied pair; a lone matrix.
  ops::Matrix fused{base, DType::kF32, 6, 256};
  ops::Matrix top{base, DType::kF32, 2, 256};
  ops::Matrix bottom{base + 2 * 256 * 4, DType::kF32, 4, 256};
  ops::Matrix embed{base + 8192, DType::kBF16, 8, 100};
  ops::Matrix head = embed;
  ops::Matrix lone{base + 6144 + 64, DType::kF16, 3, 10};
  ops::Matrix empty{};
  ops::Matrix* all[] = {&bottom, &embed, &fused, &head, &top, &lone, &empty};
  const std::vector<const std::byte*> before = {bottom.data, embed.data, fused.data,
                                                head.data,   top.data,   lone.data};
  const HugeBuffer buffer = make_resident(all);
  for (size_t i = 0; i + 1 < std::size(all); ++i) {
    const ops::Matrix& m = *all[i];
    EXPECT_NE(m.data, before[i]) << i;
    const size_t size = static_cast<size_t>(m.rows * m.cols * dtype_size(m.dtype));
    const size_t at = static_cast<size_t>(before[i] - base);
    for (size_t b = 0; b < size; ++b)
      ASSERT_EQ(m.data[b], static_cast<std::byte>(bytes[at + b]))
          << "matrix " << i << " byte " << b;
  }
  EXPECT_EQ(top.data, fused.data);
  EXPECT_EQ(bottom.data, fused.data + 2 * 256 * 4);
  EXPECT_EQ(head.data, embed.data);
  EXPECT_EQ(empty.data, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(fused.data) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(lone.data) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(embed.data) % 64, 0u);
}

}  // namespace
}  // namespace gqa::model

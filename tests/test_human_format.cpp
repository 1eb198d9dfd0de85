#include <gtest/gtest.h>

#include "cli/human_format.h"
#include "cli/text_table.h"

namespace gqa::cli {
namespace {

TEST(HumanFormat, LessonFiguresPrintAsTheLessonWritesThem) {
  EXPECT_EQ(format_bytes_small(524288), "0.50 MiB");
  EXPECT_EQ(format_bytes_small(131072), "0.125 MiB");
  EXPECT_EQ(format_bytes(int64_t{2048} << 20), "2048 MiB");
  EXPECT_EQ(format_bytes(int64_t{512} << 20), "512 MiB");
  EXPECT_EQ(format_bytes(int64_t{20} << 30), "20 GiB");
}

TEST(HumanFormat, SmallAndOddSizes) {
  EXPECT_EQ(format_bytes_small(6912), "6.75 KiB");
  EXPECT_EQ(format_bytes_small(100), "100 B");
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1536), "1536 B");
  EXPECT_EQ(format_decimal(1.0 / 3.0), "0.333");
  EXPECT_EQ(format_decimal(22.5), "22.50");
}

TEST(HumanFormat, CountsAndRatios) {
  EXPECT_EQ(format_grouped(6738415616), "6,738,415,616");
  EXPECT_EQ(format_grouped(999), "999");
  EXPECT_EQ(format_grouped(-1000), "-1,000");
  EXPECT_EQ(format_params(6738415616), "6.74 B");
  EXPECT_EQ(format_params(134515008), "135 M");
  EXPECT_EQ(format_ratio(4.0), "4.00x");
}

TEST(TextTable, ColumnsAlign) {
  TextTable t({TextTable::Align::kLeft, TextTable::Align::kRight});
  t.add_row({"a", "1"});
  t.add_row({"long", "100"});
  EXPECT_EQ(t.render(), "a       1\nlong  100\n");
}

}  // namespace
}  // namespace gqa::cli

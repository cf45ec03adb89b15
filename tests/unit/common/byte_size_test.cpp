#include "common/byte_size.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

TEST(ByteSize, SuffixesAsDockerAndRuncTakeThem) {
  EXPECT_EQ(kiln::parse_byte_size("512", "memory"), 512);
  EXPECT_EQ(kiln::parse_byte_size("512b", "memory"), 512);
  EXPECT_EQ(kiln::parse_byte_size("4k", "memory"), 4096);
  EXPECT_EQ(kiln::parse_byte_size("100M", "memory"), 100 << 20);
  EXPECT_EQ(kiln::parse_byte_size("100mb", "memory"), 100 << 20);
  EXPECT_EQ(kiln::parse_byte_size("2G", "memory"), int64_t{2} << 30);
  EXPECT_EQ(kiln::parse_byte_size("1t", "memory"), int64_t{1} << 40);
}

TEST(ByteSize, RefusesWhatIsNotASize) {
  for (const char* bad : {"", "0", "k", "-1", "12q", "1.5g", "10 m", "1025t", "99999999999999999999"}) {
    try {
      kiln::parse_byte_size(bad, "memory");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const kiln::Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(std::string("memory ") + bad + ":", 0), 0u) << e.what();
    }
  }
}

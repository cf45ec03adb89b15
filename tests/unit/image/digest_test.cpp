#include "image/digest.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "image/image_config.hpp"

using namespace kiln::image;

TEST(Digest, KnownValues) {
  EXPECT_EQ(sha256_of("").hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.update("ab");
  h.update("c");
  EXPECT_EQ(h.finish().hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, ParseAcceptsOnlySha256Hex) {
  auto d = parse_digest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(d.str(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_THROW(parse_digest("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), kiln::Error);
  EXPECT_THROW(parse_digest("sha512:abcd"), kiln::Error);
  EXPECT_THROW(parse_digest("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"), kiln::Error);
  EXPECT_THROW(parse_digest("sha256:../../etc/passwd"), kiln::Error);
  EXPECT_THROW(parse_digest("sha256:"), kiln::Error);
}

TEST(Digest, MismatchNamesTheBlob) {
  Digest want = sha256_of("good");
  try {
    check_digest(want, sha256_of("evil"));
    FAIL() << "no throw";
  } catch (const kiln::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("blob " + want.str() + " digest mismatch"), std::string::npos) << m;
  }
}

TEST(ChainId, FollowsTheSpec) {
  Digest a = sha256_of("a"), b = sha256_of("b"), c = sha256_of("c");
  auto ids = chain_ids({a, b, c});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], a);
  EXPECT_EQ(ids[1], sha256_of(a.str() + " " + b.str()));
  EXPECT_EQ(ids[2], sha256_of(ids[1].str() + " " + c.str()));
}

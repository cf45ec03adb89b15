// The pax tar writer used for build layers and kiln save: what libarchive reads back.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "common/files.hpp"
#include "image/tar_writer.hpp"

namespace kiln::image {
namespace {

struct Read {
  std::string path, link, data;
  int64_t size, mtime;
  unsigned mode;
  int64_t uid;
  std::string cap;
};

std::vector<Read> read_back(const std::string& file) {
  std::vector<Read> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, file.c_str(), 10240), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    Read r;
    r.path = archive_entry_pathname(e);
    r.link = archive_entry_symlink(e) ? archive_entry_symlink(e)
                                      : (archive_entry_hardlink(e) ? archive_entry_hardlink(e) : "");
    r.size = archive_entry_size(e);
    r.mtime = archive_entry_mtime(e);
    r.mode = archive_entry_perm(e);
    r.uid = archive_entry_uid(e);
    const char* name;
    const void* val;
    size_t len;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK)
      if (std::string(name) == "security.capability") r.cap.assign(static_cast<const char*>(val), len);
    char buf[4096];
    ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) r.data.append(buf, static_cast<size_t>(n));
    out.push_back(r);
  }
  archive_read_free(a);
  return out;
}

TEST(TarWriter, LongNamesBigIdsXattrsAndLinks) {
  char tmpl[] = "/tmp/kiln-tar-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  std::string long_name = std::string(120, 'n') + "/" + std::string(130, 'f');
  {
    TarWriter w(fd);
    TarEntry d;
    d.type = TarEntry::Type::dir;
    d.path = "dir";
    d.mode = 0750;
    w.header(d);
    TarEntry f;
    f.path = long_name;
    f.size = 5;
    f.uid = 5000000;  // more than ustar's 7 octal digits
    f.mtime = 1700000000;
    f.xattrs.push_back({"security.capability", std::string("\x01\x00\x00\x02", 4)});
    w.header(f);
    w.data("hello");
    TarEntry l;
    l.type = TarEntry::Type::symlink;
    l.path = "dir/link";
    l.link = std::string(150, 't');
    w.header(l);
    TarEntry e;
    e.path = "empty";
    w.header(e);
    w.finish();
    EXPECT_EQ(w.written() % 512, 0u);
  }
  ::close(fd);
  auto r = read_back(tmpl);
  ::unlink(tmpl);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].path, "dir/");
  EXPECT_EQ(r[0].mode, 0750u);
  EXPECT_EQ(r[1].path, long_name);
  EXPECT_EQ(r[1].data, "hello");
  EXPECT_EQ(r[1].uid, 5000000);
  EXPECT_EQ(r[1].mtime, 1700000000);
  EXPECT_EQ(r[1].cap, std::string("\x01\x00\x00\x02", 4));
  EXPECT_EQ(r[2].link, std::string(150, 't'));
  EXPECT_EQ(r[3].size, 0);
}

TEST(TarWriter, RefusesDataThatDoesNotMatchTheHeader) {
  char tmpl[] = "/tmp/kiln-tar-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  TarWriter w(fd);
  TarEntry f;
  f.path = "f";
  f.size = 2;
  w.header(f);
  EXPECT_THROW(w.data("too long"), std::exception);
  EXPECT_THROW(w.header(f), std::exception);  // the first entry's data is missing
  EXPECT_THROW(w.finish(), std::exception);
  ::close(fd);
  ::unlink(tmpl);
}

}  // namespace
}  // namespace kiln::image

// Builds small tar archives in memory (libarchive writer) for the image unit tests.
#pragma once
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <string>

namespace kiln::test {

class TarBuilder {
 public:
  explicit TarBuilder(const char* filter = "none") : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_);
    if (std::string(filter) == "gzip") archive_write_add_filter_gzip(a_);
    if (std::string(filter) == "zstd") archive_write_add_filter_zstd(a_);
    archive_write_set_bytes_in_last_block(a_, 1);
    archive_write_open(a_, &out_, nullptr, write_cb, nullptr);
  }
  ~TarBuilder() {
    if (a_) archive_write_free(a_);
  }
  TarBuilder& file(const std::string& name, const std::string& data, mode_t mode = 0644, int uid = 0, int gid = 0) {
    archive_entry* e = entry(name, AE_IFREG, mode, uid, gid);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_write_header(a_, e);
    archive_write_data(a_, data.data(), data.size());
    archive_entry_free(e);
    return *this;
  }
  TarBuilder& dir(const std::string& name, mode_t mode = 0755) { return simple(name, AE_IFDIR, mode); }
  TarBuilder& symlink(const std::string& name, const std::string& target) {
    archive_entry* e = entry(name, AE_IFLNK, 0777, 0, 0);
    archive_entry_set_symlink(e, target.c_str());
    archive_write_header(a_, e);
    archive_entry_free(e);
    return *this;
  }
  TarBuilder& hardlink(const std::string& name, const std::string& target) {
    archive_entry* e = entry(name, AE_IFREG, 0644, 0, 0);
    archive_entry_set_hardlink(e, target.c_str());
    archive_entry_set_size(e, 0);
    archive_write_header(a_, e);
    archive_entry_free(e);
    return *this;
  }
  std::string finish() {
    archive_write_close(a_);
    archive_write_free(a_);
    a_ = nullptr;
    return out_;
  }

 private:
  static la_ssize_t write_cb(archive*, void* ud, const void* buf, size_t n) {
    static_cast<std::string*>(ud)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  archive_entry* entry(const std::string& name, unsigned type, mode_t mode, int uid, int gid) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, mode);
    archive_entry_set_uid(e, uid);
    archive_entry_set_gid(e, gid);
    archive_entry_set_mtime(e, 1600000000, 0);
    return e;
  }
  TarBuilder& simple(const std::string& name, unsigned type, mode_t mode) {
    archive_entry* e = entry(name, type, mode, 0, 0);
    archive_write_header(a_, e);
    archive_entry_free(e);
    return *this;
  }
  archive* a_;
  std::string out_;
};

}  // namespace kiln::test

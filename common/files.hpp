// Small whole-file helpers with errors that name the path.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"

namespace kiln {

// Opens path (O_CLOEXEC is always added); throws "open PATH: reason".
UniqueFd open_file(const std::string& path, int flags, mode_t mode = 0);
std::string read_file(const std::string& path);
std::string read_fd(int fd);
// Reads a file that may be missing: nullopt when it does not exist.
std::optional<std::string> read_file_if_exists(const std::string& path);
void write_file(const std::string& path, std::string_view data, mode_t mode = 0644);
// Writes to PATH.tmp-XXXX, renames over path: readers see the old or the new file, never half.
// Durable also fsyncs before the rename, so a crash cannot leave an empty file, and the
// directory after it, so the new name survives power loss (for the image and secret stores;
// runtime state lives on tmpfs under /run, gone at reboot anyway).
enum class Sync { durable, in_memory };
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644, Sync sync = Sync::durable);
// write_file_atomic's temp files are "NAME.tmp-PID-RANDOM": the writer's pid, so that what a
// process killed mid-write left can be told from what a live one is writing.
std::optional<pid_t> atomic_temp_writer(std::string_view file_name);
// Removes the temp files in dir whose writer is gone (a kill -9 or power loss mid-write).
void remove_dead_writers_temp_files(const std::string& dir);
// Writes all of data, retrying on EINTR and short writes; throws naming `what`.
void write_all(int fd, std::string_view data, std::string_view what);
void mkdir_p(const std::string& path, mode_t mode = 0755);
// rm -rf that never crosses into another mount and ignores a missing path.
void remove_tree(const std::string& path);
bool path_exists(const std::string& path);
// realpath(3): absolute, every symlink resolved; throws when the path does not resolve.
std::string resolved_path(const std::string& path);
// fsync of a directory: the names created, renamed or removed in it are on disk.
void sync_dir(const std::string& dir);

}  // namespace kiln

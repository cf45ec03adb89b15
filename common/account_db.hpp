// The account databases of a root filesystem (/etc/passwd, /etc/group), read inside that root:
// a hostile image cannot make us read host files through a symlinked /etc/passwd, nor hang us on
// a FIFO, nor exhaust memory with a huge sparse file.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace kiln {

// One line of a colon-separated database, split into its fields.
using AccountEntry = std::vector<std::string>;

// The entries of `path` inside root_fd; comments and blank lines skipped; a missing file has
// none. Throws when the file is not a regular file or is larger than real databases get.
std::vector<AccountEntry> read_account_db(int root_fd, const char* path);

// A decimal id as the databases write it; nullopt for anything else, including (uid_t)-1, which
// setresuid would read as "unchanged".
std::optional<unsigned> account_id(const std::string& text);

// The home directory /etc/passwd names for uid; nullopt when no entry has that uid or it has
// no home field.
std::optional<std::string> home_of_uid(int root_fd, uid_t uid);

}  // namespace kiln

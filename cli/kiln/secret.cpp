// kiln secret create NAME FILE|-   (the value from a file or stdin, never from argv)
// kiln secret ls                   NAME, SIZE, CREATED (never values)
// kiln secret inspect NAME...      metadata as JSON (never the value)
// kiln secret rm NAME...
// The store is engine/secret_store.hpp; values may be binary, at most 512 KiB.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/secret_store.hpp"

namespace {

struct State {
  std::string name;
  std::string file;
  std::vector<std::string> names;
  bool quiet = false;
};

nlohmann::json info_json(const kiln::engine::SecretInfo& i) {
  return {{"Name", i.name}, {"Size", i.size}, {"Created", i.created}};
}

int create(const State& s) {
  kiln::engine::SecretStore store(kiln::cli::globals().root);
  kiln::engine::check_secret_name(s.name);
  kiln::engine::SecretBuffer value;
  if (s.file == "-") {
    value = kiln::engine::read_secret_input(STDIN_FILENO, "stdin");
  } else {
    kiln::UniqueFd fd = kiln::open_file(s.file, O_RDONLY);
    value = kiln::engine::read_secret_input(fd.get(), s.file);
  }
  auto info = store.create(s.name, value.view());
  std::printf("%s\n", info.name.c_str());
  return 0;
}

int list(const State& s) {
  kiln::engine::SecretStore store(kiln::cli::globals().root);
  auto all = store.list();
  if (s.quiet) {
    for (const auto& i : all) std::printf("%s\n", i.name.c_str());
    return 0;
  }
  std::printf("%-32s %10s  %s\n", "NAME", "SIZE", "CREATED");
  for (const auto& i : all)
    std::printf("%-32s %10llu  %s\n", i.name.c_str(), static_cast<unsigned long long>(i.size), i.created.c_str());
  return 0;
}

int inspect(const State& s) {
  kiln::engine::SecretStore store(kiln::cli::globals().root);
  auto out = nlohmann::json::array();
  for (const auto& n : s.names) out.push_back(info_json(store.info(n)));
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

int remove(const State& s) {
  kiln::engine::SecretStore store(kiln::cli::globals().root);
  int rc = 0;
  for (const auto& n : s.names) {
    try {
      store.remove(n);
      std::printf("%s\n", n.c_str());
    } catch (const kiln::Error& e) {  // go on with the others, like docker rm
      std::fprintf(stderr, "kiln: %s\n", e.what());
      rc = 1;
    }
  }
  return rc;
}

kiln::cli::RegisterCommand reg(
    "secret", "Manage secrets (values are never printed)", [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto s = std::make_shared<State>();
      sub.require_subcommand(1);
      kiln::cli::Command c = sub.add_subcommand("create", "Create a secret from FILE, or from stdin with -");
      c.add_option("NAME", s->name, "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}").required();
      c.add_option("FILE", s->file, "file holding the value, or - for stdin (at most 512 KiB)").required();
      kiln::cli::Command l = sub.add_subcommand("ls", "List secrets: name, size, created");
      l.alias("list");
      l.add_flag("-q,--quiet", s->quiet, "names only");
      kiln::cli::Command i = sub.add_subcommand("inspect", "Show secrets' metadata as JSON");
      i.add_option("NAME", s->names).required();
      kiln::cli::Command r = sub.add_subcommand("rm", "Remove secrets");
      r.alias("remove");
      r.add_option("NAME", s->names).required();
      return [s, c, l, i, r] {
        // A core dump of kiln must never hold a secret value.
        ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (c.parsed()) return create(*s);
        if (l.parsed()) return list(*s);
        if (i.parsed()) return inspect(*s);
        if (r.parsed()) return remove(*s);
        return 125;
      };
    });

}  // namespace

// kiln login [-u USER] [--password-stdin] [--tls-verify=false] HOST and kiln logout HOST: the
// credentials podman keeps (auth.json, 0600), checked against the registry before they are
// stored. The password never comes from argv (ps would show it).
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "image/registry_auth.hpp"
#include "image/registry_client.hpp"
#include "image/registries_conf.hpp"
#include "image/registry_pull.hpp"

namespace {

struct LoginFlags {
  std::string host, username, tls_verify = "true";
  bool password_stdin = false;
};

std::string read_line(bool echo) {
  termios saved{};
  const bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (tty && !echo) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty && !echo) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fputc('\n', stderr);
  }
  return line;
}

kiln::cli::RegisterCommand login(
    "login", "Log in to a registry (credentials checked, then kept in auth.json)",
    [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto f = std::make_shared<LoginFlags>();
      sub.add_option("-u,--username", f->username, "user name (asked for on a terminal when not given)");
      sub.add_flag("--password-stdin", f->password_stdin, "read the password from stdin");
      sub.add_option("--tls-verify", f->tls_verify, "false: plain HTTP, no certificate checks (default true)");
      sub.add_option("HOST", f->host, "registry host[:port]").required();
      return [f] {
        const bool tls_verify = kiln::image::parse_tls_verify(f->tls_verify);
        const bool terminal = ::isatty(STDIN_FILENO);
        if (!f->password_stdin && !terminal)
          throw kiln::Error("login " + f->host + ": no terminal to ask for the password on: use --password-stdin");
        if (f->username.empty()) {
          if (!terminal) throw kiln::Error("login " + f->host + ": no user name: use -u");
          std::fprintf(stderr, "Username: ");
          f->username = read_line(true);
        }
        kiln::image::Credentials c{f->username, ""};
        if (f->password_stdin) {
          c.password = kiln::read_fd(STDIN_FILENO);
          while (!c.password.empty() && (c.password.back() == '\n' || c.password.back() == '\r')) c.password.pop_back();
        } else {
          std::fprintf(stderr, "Password: ");
          c.password = read_line(false);
        }
        if (c.username.empty() || c.password.empty())
          throw kiln::Error("login " + f->host + ": empty user name or password");
        const std::string conf = kiln::image::default_registries_conf();
        const kiln::image::RegistryRoute route =
            kiln::image::route_for(kiln::image::load_registries_conf(conf), f->host, conf);
        kiln::image::RegistryClient client(f->host, kiln::image::RegistryOptions{tls_verify && !route.insecure, c});
        kiln::with_context("login " + f->host, [&] { client.check_access(); });
        const std::string file = kiln::image::auth_file_for_writing();
        kiln::image::store_credentials(file, f->host, c);
        std::printf("Login Succeeded\n");
        return 0;
      };
    });

struct LogoutFlags {
  std::string host;
};

kiln::cli::RegisterCommand logout("logout", "Forget the credentials kept for a registry",
                                  [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                    auto f = std::make_shared<LogoutFlags>();
                                    sub.add_option("HOST", f->host, "registry host[:port]").required();
                                    return [f] {
                                      const std::string file = kiln::image::auth_file_for_writing();
                                      if (!kiln::image::forget_credentials(file, f->host))
                                        throw kiln::Error("logout " + f->host + ": not logged in (" + file + ")");
                                      std::printf("Removed login credentials for %s\n", f->host.c_str());
                                      return 0;
                                    };
                                  });

}  // namespace

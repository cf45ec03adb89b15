#include "common/signals.hpp"

#include <sys/wait.h>

#include <array>
#include <csignal>
#include <cstring>
#include <utility>

#include "common/error.hpp"

namespace kiln {
namespace {

constexpr std::array<std::pair<const char*, int>, 31> kSignals{{
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},   {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"SEGV", SIGSEGV},     {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
}};

}  // namespace

int parse_signal(const std::string& text) {
  if (text.empty()) throw Error("signal: empty");
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 3) throw Error("signal " + text + ": unknown");
    int n = std::stoi(text);
    if (n <= 0 || n > SIGRTMAX) throw Error("signal " + text + ": unknown");
    return n;
  }
  std::string name = text;
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (const auto& [n, v] : kSignals)
    if (name == n) return v;
  if (name.rfind("RTMIN", 0) == 0 || name.rfind("RTMAX", 0) == 0) {
    bool min = name.rfind("RTMIN", 0) == 0;
    int base = min ? SIGRTMIN : SIGRTMAX;
    std::string rest = name.substr(5);
    if (rest.empty()) return base;
    try {
      int off = std::stoi(rest);
      int sig = base + off;
      if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig;
    } catch (const std::exception&) {
    }
  }
  throw Error("signal " + text + ": unknown");
}

std::string signal_name(int sig) {
  for (const auto& [n, v] : kSignals)
    if (v == sig) return std::string("SIG") + n;
  return std::to_string(sig);
}

int exit_status_from_wait(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 255;
}

}  // namespace kiln

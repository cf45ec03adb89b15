// kiln stats [--no-stream] [CONTAINER...]: memory, cpu and pids of running containers, from
// their cgroups. Streams (refreshing every second) unless --no-stream.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>

#include "cgroups/manager.hpp"
#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "engine/records.hpp"
#include "runtime/state.hpp"

namespace {

struct Opts {
  std::vector<std::string> containers;
  bool no_stream = false;
};

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fMiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

kiln::cli::RegisterCommand reg(
    "stats", "Show containers' memory, cpu and pids", [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto o = std::make_shared<Opts>();
      sub.add_flag("--no-stream", o->no_stream, "print once and exit");
      sub.add_option("CONTAINER", o->containers, "names or ids (default: all running)");
      return [o] {
        namespace rt = kiln::engine;
        rt::RunRecords records(rt::default_run_root());
        std::map<std::string, uint64_t> last_cpu;
        auto last_time = std::chrono::steady_clock::now();
        for (;;) {
          std::vector<rt::RunRecord> rs;
          if (o->containers.empty()) {
            for (auto& r : records.list())
              if (records.status(r).state == "running") rs.push_back(r);
          } else {
            for (const auto& c : o->containers) rs.push_back(records.load(records.resolve(c)));
          }
          auto now = std::chrono::steady_clock::now();
          double dt = std::chrono::duration<double>(now - last_time).count();
          last_time = now;
          if (!o->no_stream) std::printf("\033[2J\033[H");
          std::printf("%-12s  %-20s  %8s  %-22s  %6s\n", "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "PIDS");
          for (const auto& r : rs) {
            try {
              kiln::runtime::StateDir sd(records.runtime_root(), r.id);
              auto st = sd.load();
              auto s = kiln::cgroups::make_manager(st.cgroups_path, r.id)->stats();
              std::string cpu = "--";
              if (last_cpu.count(r.id) && dt > 0) {
                char buf[16];
                std::snprintf(buf, sizeof buf, "%.2f%%",
                              static_cast<double>(s.cpu.total - last_cpu[r.id]) / (dt * 1e9) * 100);
                cpu = buf;
              }
              last_cpu[r.id] = s.cpu.total;
              uint64_t limit = s.memory.usage.limit;
              std::string mem = mib(s.memory.usage.usage) + " / " +
                                (limit == 0 || limit > (uint64_t{1} << 60) ? "unlimited" : mib(limit));
              std::printf("%-12s  %-20s  %8s  %-22s  %6llu\n", r.id.substr(0, 12).c_str(), r.name.c_str(), cpu.c_str(),
                          mem.c_str(), static_cast<unsigned long long>(s.pids.current));
            } catch (const kiln::Error& e) {
              if (!o->containers.empty()) throw kiln::Error("stats " + r.name + ": " + e.what());
            }
          }
          std::fflush(stdout);
          if (o->no_stream) return 0;
          std::this_thread::sleep_for(std::chrono::seconds(1));
        }
      };
    });

}  // namespace

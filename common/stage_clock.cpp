#include "common/stage_clock.hpp"

#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstring>

namespace kiln {

int64_t monotonic_us() noexcept {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

bool stage_logging_enabled() { return spdlog::default_logger_raw()->should_log(spdlog::level::debug); }

void log_stage(std::string_view name, int64_t at_us) {
  if (!stage_logging_enabled()) return;
  spdlog::debug("stage {} {}", at_us ? at_us : monotonic_us(), name);
}

ChildStageStamps::ChildStageStamps() {
  if (!stage_logging_enabled()) return;
  void* p = ::mmap(nullptr, sizeof(Page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;  // no stage lines from the init: not worth failing a start
  page_ = new (p) Page{};
}

ChildStageStamps::~ChildStageStamps() {
  if (page_) ::munmap(page_, sizeof(Page));
}

void ChildStageStamps::stamp(std::string_view prefix, std::string_view name) noexcept {
  if (!page_) return;
  int i = page_->count.load(std::memory_order_relaxed);
  if (i >= kSlots) return;
  Slot& s = page_->slots[i];
  s.us = monotonic_us();
  size_t n = std::min(prefix.size(), static_cast<size_t>(kNameBytes - 1));
  std::memcpy(s.name, prefix.data(), n);
  size_t m = std::min(name.size(), static_cast<size_t>(kNameBytes - 1) - n);
  std::memcpy(s.name + n, name.data(), m);
  s.name[n + m] = '\0';
  page_->count.store(i + 1, std::memory_order_release);
}

void ChildStageStamps::log_new() {
  if (!page_) return;
  int n = page_->count.load(std::memory_order_acquire);
  for (; logged_ < n; ++logged_) log_stage(page_->slots[logged_].name, page_->slots[logged_].us);
}

}  // namespace kiln

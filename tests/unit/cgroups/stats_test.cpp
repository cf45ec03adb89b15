#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cgroups/stats.hpp"

using namespace kiln::cgroups;

TEST(Stats, EventsJsonHasRuncShape) {
  Stats s;
  s.cpu.total = 100;
  s.cpu.user = 60;
  s.cpu.system = 40;
  s.cpu.periods = 7;
  s.cpu.throttled_periods = 3;
  s.cpu.throttled_time = 999;
  s.memory.usage = {4096, 8192, 1, 33554432};
  s.memory.raw["rss"] = 4096;
  s.pids = {2, 5};
  s.hugetlb["2MB"] = {0, 0, 0};
  s.blkio.io_service_bytes_recursive.push_back({8, 0, "Read", 512});
  auto j = stats_to_events_json(s, "web1");
  EXPECT_EQ(j["type"], "stats");
  EXPECT_EQ(j["id"], "web1");
  EXPECT_EQ(j["data"]["cpu"]["usage"]["total"], 100);
  EXPECT_EQ(j["data"]["cpu"]["usage"]["user"], 60);
  EXPECT_EQ(j["data"]["cpu"]["usage"]["kernel"], 40);
  EXPECT_EQ(j["data"]["cpu"]["throttling"]["throttledPeriods"], 3);
  EXPECT_EQ(j["data"]["memory"]["usage"]["usage"], 4096);
  EXPECT_EQ(j["data"]["memory"]["usage"]["max"], 8192);
  EXPECT_EQ(j["data"]["memory"]["usage"]["limit"], 33554432);
  EXPECT_EQ(j["data"]["memory"]["raw"]["rss"], 4096);
  EXPECT_EQ(j["data"]["pids"]["current"], 2);
  EXPECT_EQ(j["data"]["pids"]["limit"], 5);
  EXPECT_EQ(j["data"]["blkio"]["ioServiceBytesRecursive"][0]["op"], "Read");
  EXPECT_TRUE(j["data"]["hugetlb"].contains("2MB"));
}

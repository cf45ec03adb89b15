// Networks, the parts that need no kernel: addresses and subnets, -p, the netavark input, the
// /etc files of a container on a bridge network, the plan made from the flags.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "common/error.hpp"
#include "engine/etc_files.hpp"
#include "engine/ipam.hpp"
#include "engine/ipv4.hpp"
#include "engine/netavark.hpp"
#include "engine/network_config.hpp"
#include "engine/port_spec.hpp"

namespace en = kiln::engine;

TEST(Ipv4, ParseAndFormat) {
  EXPECT_EQ(en::parse_ipv4("10.77.0.1"), 0x0a4d0001u);
  EXPECT_EQ(en::format_ipv4(0x0a4d0001u), "10.77.0.1");
  for (const char* bad : {"", "10.77.0", "10.77.0.256", "10.077.0.1", "1.2.3.4.5", "a.b.c.d", "10.77.0.1 ", "-1.2.3.4"})
    EXPECT_FALSE(en::parse_ipv4(bad)) << bad;
}

TEST(Ipv4, CidrChecks) {
  en::Cidr c = en::parse_cidr("10.77.1.0/24");
  EXPECT_EQ(c.str(), "10.77.1.0/24");
  EXPECT_TRUE(c.contains(*en::parse_ipv4("10.77.1.200")));
  EXPECT_FALSE(c.contains(*en::parse_ipv4("10.77.2.1")));
  EXPECT_EQ(en::format_ipv4(c.first_host()), "10.77.1.1");
  EXPECT_EQ(en::format_ipv4(c.last_host()), "10.77.1.254");
  EXPECT_TRUE(en::overlaps(c, en::parse_cidr("10.77.0.0/16")));
  EXPECT_TRUE(en::overlaps(c, en::parse_cidr("10.77.1.128/25")));
  EXPECT_FALSE(en::overlaps(c, en::parse_cidr("10.77.2.0/24")));
  for (const char* bad :
       {"10.77.1.0", "10.77.1.0/33", "10.77.1.0/31", "10.77.1.0/4", "10.77.1.1/24", "x/24", "10.77.1.0/"})
    EXPECT_THROW(en::parse_cidr(bad), kiln::Error) << bad;
  try {
    en::parse_cidr("10.77.1.1/24");
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()), "subnet 10.77.1.1/24: host bits are set (the subnet is 10.77.1.0/24)");
  }
}

TEST(Ipv4, DefaultNetworkClearOfPodmanAndDocker) {
  en::NetworkConfig d = en::default_network();
  EXPECT_EQ(d.name, "kiln");
  EXPECT_EQ(d.bridge, "kiln0");
  for (const char* other : {"10.88.0.0/16", "10.89.0.0/16", "172.17.0.0/16", "192.168.0.0/16", "10.96.0.0/12"})
    EXPECT_FALSE(en::overlaps(d.subnet, en::parse_cidr(other))) << other;
}

TEST(PortSpec, Forms) {
  auto p = en::parse_port_spec("80");
  EXPECT_EQ(p.container_port, 80);
  EXPECT_EQ(p.host_port, 0);
  EXPECT_EQ(p.host_ip, "");
  p = en::parse_port_spec("8080:80/udp");
  EXPECT_EQ(p.host_port, 8080);
  EXPECT_EQ(p.protocol, "udp");
  p = en::parse_port_spec("127.0.0.1:8080:80");
  EXPECT_EQ(p.host_ip, "127.0.0.1");
  EXPECT_EQ(en::port_text(p), "127.0.0.1:8080->80/tcp");
  p = en::parse_port_spec("127.0.0.1::80");
  EXPECT_EQ(p.host_port, 0);
  EXPECT_EQ(en::parse_port_spec("0.0.0.0:1:2").host_ip, "");
  for (const char* bad : {"", "0", "65536", "80:0", "x:80", "1.2.3:80:80", "80/sctp", "8000-8010:80", "1:2:3:4", ":80"})
    EXPECT_THROW(en::parse_port_spec(bad), kiln::Error) << bad;
  try {
    en::parse_port_spec("70000:80");
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()), "publish 70000:80: host port 70000 out of range (1-65535)");
  }
}

TEST(Netavark, Options) {
  en::NetavarkContainer c;
  c.id = std::string(64, 'a');
  c.name = "web";
  c.network = en::default_network();
  c.ip = *en::parse_ipv4("10.77.0.5");
  c.aliases = {"web", "www"};
  c.ports = {en::parse_port_spec("127.0.0.1:8080:80")};
  auto j = en::netavark_options(c);
  EXPECT_EQ(j["container_id"], c.id);
  EXPECT_EQ(j["networks"]["kiln"]["static_ips"][0], "10.77.0.5");
  EXPECT_EQ(j["networks"]["kiln"]["interface_name"], "eth0");
  EXPECT_FALSE(j["networks"]["kiln"].contains("aliases"));  // no DNS on the default network
  EXPECT_EQ(j["network_info"]["kiln"]["network_interface"], "kiln0");
  EXPECT_EQ(j["network_info"]["kiln"]["subnets"][0]["subnet"], "10.77.0.0/24");
  EXPECT_EQ(j["network_info"]["kiln"]["subnets"][0]["gateway"], "10.77.0.1");
  EXPECT_EQ(j["network_info"]["kiln"]["options"]["isolate"], "true");
  EXPECT_EQ(j["port_mappings"][0]["host_port"], 8080);
  EXPECT_EQ(j["port_mappings"][0]["host_ip"], "127.0.0.1");
  c.network.dns_enabled = true;
  EXPECT_EQ(en::netavark_options(c)["networks"]["kiln"]["aliases"][1], "www");
}

TEST(EtcFiles, BridgeNetwork) {
  en::EtcInputs in;
  in.hostname = "box";
  in.ip = "10.77.1.2";
  in.names = {"web", "box", "www"};
  in.dns_servers = {"10.77.1.1"};
  in.dns_search = {"dns.podman"};
  auto files = en::container_etc_files(in);
  EXPECT_NE(files[1].content.find("10.77.1.2\tbox\tweb\twww\n"), std::string::npos) << files[1].content;
  EXPECT_EQ(files[1].content.find("127.0.1.1"), std::string::npos);
  EXPECT_NE(files[2].content.find("search dns.podman\nnameserver 10.77.1.1\n"), std::string::npos);
  in.dns_servers.clear();
  in.host_resolv_conf = "search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.53\n";
  EXPECT_EQ(en::container_etc_files(in)[2].content, "search lan\nnameserver 10.0.0.53\n");
}

TEST(Network, NameRules) {
  EXPECT_NO_THROW(en::validate_network_name("web-1.net_a"));
  for (const char* bad : {"", "-x", "a/b", "none", "host", "container:x", "bridge"})
    EXPECT_THROW(en::validate_network_name(bad), kiln::Error) << bad;
}

namespace {

// A run root in a temp dir, with a record dir for each "live" container.
struct TempRunRoot {
  std::string path;
  TempRunRoot() {
    char tmpl[] = "/tmp/kiln-ipam-XXXXXX";
    path = ::mkdtemp(tmpl);
    std::filesystem::create_directories(path + "/containers");
  }
  ~TempRunRoot() { std::filesystem::remove_all(path); }
  void live(const std::string& id) const { std::filesystem::create_directories(path + "/containers/" + id); }
};

}  // namespace

TEST(Leases, AddressesLowestFreeFixedAndStale) {
  TempRunRoot root;
  root.live("a");
  root.live("b");
  en::Leases leases(root.path);
  en::NetworkConfig n = en::default_network();
  EXPECT_EQ(en::format_ipv4(leases.lease_address(n, "a", std::nullopt)), "10.77.0.2");  // .1 is the gateway
  EXPECT_EQ(en::format_ipv4(leases.lease_address(n, "b", std::nullopt)), "10.77.0.3");
  try {
    leases.lease_address(n, "c", en::parse_ipv4("10.77.0.2"));
    ADD_FAILURE() << "a held address was leased twice";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()), "ip 10.77.0.2 is already in use by container a");
  }
  EXPECT_THROW(leases.lease_address(n, "c", en::parse_ipv4("10.77.0.1")), kiln::Error);  // gateway
  EXPECT_THROW(leases.lease_address(n, "c", en::parse_ipv4("10.77.1.5")), kiln::Error);  // other subnet
  leases.release_address(n.name, *en::parse_ipv4("10.77.0.2"), "b");                     // not b's: kept
  EXPECT_EQ(leases.addresses(n.name).size(), 2u);
  leases.release_address(n.name, *en::parse_ipv4("10.77.0.2"), "a");
  EXPECT_EQ(en::format_ipv4(leases.lease_address(n, "c", std::nullopt)), "10.77.0.2");
  // "c" has no record: a crashed run. Its lease is taken back by the next allocation.
  root.live("d");
  EXPECT_EQ(en::format_ipv4(leases.lease_address(n, "d", en::parse_ipv4("10.77.0.2"))), "10.77.0.2");
}

TEST(Leases, HostPorts) {
  TempRunRoot root;
  root.live("a");
  en::Leases leases(root.path);
  en::PortSpec any = en::parse_port_spec("127.0.0.1::80");
  leases.lease_port(any, "a");
  EXPECT_GT(any.host_port, 0);
  en::PortSpec same = any;
  EXPECT_THROW(leases.lease_port(same, "b"), kiln::Error);
  en::PortSpec udp = any;
  udp.protocol = "udp";
  EXPECT_NO_THROW(leases.lease_port(udp, "a"));  // another protocol, another port
  leases.release_port(any, "a");
  EXPECT_NO_THROW(leases.lease_port(same, "a"));
}

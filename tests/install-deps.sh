#!/usr/bin/env bash
# Installs every Debian package kiln needs to build, test and benchmark.
# Idempotent: when everything is present it does nothing (not even apt-get update).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev clang-format
  # libraries
  libseccomp-dev libcap-dev nlohmann-json3-dev libssl-dev libarchive-dev
  libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev
  # static archives kiln links (libarchive's compressions); the tests, which write tars, also
  # need what libarchive's write side uses
  zlib1g-dev liblzma-dev libbz2-dev libzstd-dev libxml2-dev nettle-dev
  # ISA-L's igzip: gzip layers inflate with it (dlopened; zlib when it is missing)
  libisal-dev
  # test and benchmark peers, fixtures
  busybox-static jq runc crun umoci skopeo hyperfine iproute2 zstd gzip tar strace
  podman containerd buildah time
  # networks: podman's backend (bridge, veth, NAT, port forwarding) and its DNS server; netavark
  # 1.4 drives the firewall through iptables; nftables for the leftover checks in the tests
  netavark aardvark-dns iptables nftables
  # the OCI runtime-tools validation suite (tests/conformance/) is Go, built offline from source
  golang-go
  # registries: HTTP/TLS for pull, and a real registry (distribution) for the tests
  libcurl4-openssl-dev docker-registry apache2-utils libcpptoml-dev
  # rootless: newuidmap/newgidmap map /etc/subuid and /etc/subgid ranges for ordinary users;
  # pasta (passt) is their user-mode network
  uidmap passt
  # the overlay when the kernel refuses one for a store (e.g. a store on another overlay)
  fuse-overlayfs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

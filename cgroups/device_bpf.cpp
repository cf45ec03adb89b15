#include "cgroups/device_bpf.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace kiln::cgroups {
namespace {

// Registers: r1 ctx (input), r2 access bits, r3 device type, r4 major, r5 minor, r6 scratch.
constexpr uint8_t kAccess = 2, kType = 3, kMajor = 4, kMinor = 5, kScratch = 6;

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

bpf_insn load_u32(uint8_t dst, int16_t offset) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, 1, offset, 0); }
bpf_insn mov32_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
bpf_insn mov64_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn jump_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
  return insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
}
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int32_t access_bits(const std::string& access) {
  int32_t bits = 0;
  for (char c : access) {
    if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
    if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
    if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
  }
  return bits;
}

constexpr int32_t kAllAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

long bpf(int cmd, bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof attr); }

}  // namespace

std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules) {
  std::vector<bpf_insn> prog = {
      load_u32(kAccess, offsetof(bpf_cgroup_dev_ctx, access_type)),
      mov32_reg(kType, kAccess),
      alu32_imm(BPF_AND, kType, 0xffff),
      alu32_imm(BPF_RSH, kAccess, 16),
      load_u32(kMajor, offsetof(bpf_cgroup_dev_ctx, major)),
      load_u32(kMinor, offsetof(bpf_cgroup_dev_ctx, minor)),
  };
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const DeviceRule& r = *it;
    // Each test jumps to the end of this block when the rule does not match; offsets are
    // relative to the next instruction, so they are patched once the block length is known.
    std::vector<bpf_insn> block;
    std::vector<size_t> jumps;
    if (r.type != 'a') {
      jumps.push_back(block.size());
      block.push_back(jump_imm(BPF_JNE, kType, r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
    }
    const int32_t bits = access_bits(r.access);
    if (bits != kAllAccess) {
      block.push_back(mov32_reg(kScratch, kAccess));
      if (r.allow) {
        // An allow covers the request only when it asks for nothing outside the rule's access.
        block.push_back(alu32_imm(BPF_AND, kScratch, ~bits & kAllAccess));
        jumps.push_back(block.size());
        block.push_back(jump_imm(BPF_JNE, kScratch, 0, 0));
      } else {
        // A deny hits any request that asks for one of the denied accesses.
        block.push_back(alu32_imm(BPF_AND, kScratch, bits));
        jumps.push_back(block.size());
        block.push_back(jump_imm(BPF_JEQ, kScratch, 0, 0));
      }
    }
    if (r.major) {
      jumps.push_back(block.size());
      block.push_back(jump_imm(BPF_JNE, kMajor, static_cast<int32_t>(*r.major), 0));
    }
    if (r.minor) {
      jumps.push_back(block.size());
      block.push_back(jump_imm(BPF_JNE, kMinor, static_cast<int32_t>(*r.minor), 0));
    }
    block.push_back(mov64_imm(0, r.allow ? 1 : 0));
    block.push_back(exit_insn());
    for (size_t j : jumps) block[j].off = static_cast<int16_t>(block.size() - (j + 1));
    prog.insert(prog.end(), block.begin(), block.end());
    // A rule that matches everything ends the program: the verifier refuses unreachable code.
    if (jumps.empty()) return prog;
  }
  prog.push_back(mov64_imm(0, 0));
  prog.push_back(exit_insn());
  return prog;
}

void attach_device_program(int cgroup_fd, const std::vector<bpf_insn>& prog, const std::string& cgroup_path) {
  const std::string what = "set linux.resources.devices: device program for " + cgroup_path;
  // What is attached now, to detach once the new program is in place (no window without one).
  uint32_t old_ids[64];
  uint32_t old_count = 64;
  {
    bpf_attr q{};
    q.query.target_fd = static_cast<uint32_t>(cgroup_fd);
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = reinterpret_cast<uint64_t>(old_ids);
    q.query.prog_cnt = old_count;
    old_count = bpf(BPF_PROG_QUERY, q) == 0 ? q.query.prog_cnt : 0;
  }

  static const char license[] = "Apache-2.0";
  bpf_attr load{};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(prog.data());
  load.insn_cnt = static_cast<uint32_t>(prog.size());
  load.license = reinterpret_cast<uint64_t>(license);
  long fd = bpf(BPF_PROG_LOAD, load);
  if (fd < 0) {
    // Load again with the verifier's log so that the error says why.
    int err = errno;
    std::string log(4096, '\0');
    load.log_level = 1;
    load.log_buf = reinterpret_cast<uint64_t>(log.data());
    load.log_size = static_cast<uint32_t>(log.size());
    bpf(BPF_PROG_LOAD, load);
    log.resize(std::strlen(log.c_str()));
    for (char& c : log) c = c == '\n' ? ' ' : c;
    throw Error(what + ": load: " + std::strerror(err) + (log.empty() ? "" : " (" + log + ")"), err);
  }
  UniqueFd prog_fd(static_cast<int>(fd));

  bpf_attr attach{};
  attach.target_fd = static_cast<uint32_t>(cgroup_fd);
  attach.attach_bpf_fd = static_cast<uint32_t>(prog_fd.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, attach) != 0) throw_errno(what + ": attach");

  for (uint32_t i = 0; i < old_count; ++i) {
    bpf_attr get{};
    get.prog_id = old_ids[i];
    long old_fd = bpf(BPF_PROG_GET_FD_BY_ID, get);
    if (old_fd < 0) continue;
    UniqueFd old(static_cast<int>(old_fd));
    bpf_attr detach{};
    detach.target_fd = static_cast<uint32_t>(cgroup_fd);
    detach.attach_bpf_fd = static_cast<uint32_t>(old.get());
    detach.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, detach) != 0) throw_errno(what + ": detach the previous program");
  }
  spdlog::debug("cgroups v2: device program of {} instructions attached to {}", prog.size(), cgroup_path);
}

}  // namespace kiln::cgroups

#include "engine/build.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/dir_stream.hpp"
#include "common/files.hpp"
#include "common/user_namespace.hpp"
#include "engine/build_config.hpp"
#include "engine/build_copy.hpp"
#include "engine/build_ignore.hpp"
#include "engine/build_layer_check.hpp"
#include "engine/build_run.hpp"
#include "engine/container_network.hpp"
#include "engine/dockerfile_expand.hpp"
#include "engine/dockerfile_lint.hpp"
#include "engine/dockerfile_parser.hpp"
#include "engine/rootfs.hpp"
#include "engine/secret_buffer.hpp"
#include "image/build_cache.hpp"
#include "image/image_store.hpp"
#include "image/layer_commit.hpp"
#include "image/layer_tar_writer.hpp"
#include "image/manifest.hpp"
#include "image/media_types.hpp"
#include "image/reference.hpp"
#include "image/store_lock.hpp"

namespace kiln::engine {
namespace {

// Build args docker knows without an ARG: passed to RUN steps, kept out of keys and history.
const std::set<std::string> kProxyArgs = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                          "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};

struct BuiltLayerInfo {
  std::string where, keyword, text;
  int line = 0;
  bool cached = false;
};

struct StageState {
  std::string name;
  std::vector<image::LayerRecord> layers;
  std::vector<BuiltLayerInfo> origins;  // one per layer: the step that made it (none for a base's)
  nlohmann::json config;
  std::vector<std::string> shell{"/bin/sh", "-c"};
  BuildVars args;  // ARGs in scope
  image::Digest key;
  bool cmd_from_base = true;
};

// A mounted overlay that unmounts when it goes (before its TempDir is removed).
class Mounted {
 public:
  explicit Mounted(const RootfsPlan& plan) : target_(plan.target) { mount_rootfs(plan); }
  ~Mounted() { unmount(); }
  Mounted(const Mounted&) = delete;
  Mounted& operator=(const Mounted&) = delete;
  void unmount() {
    if (!target_.empty()) unmount_rootfs(target_);
    target_.clear();
  }

 private:
  std::string target_;
};

struct SecretSource {
  std::string id;
  SecretBuffer value;
};

SecretBuffer read_secret_fd(int fd, const std::string& what) {
  SecretBuffer b;
  for (;;) {
    char* p = b.reserve_tail(4096);
    ssize_t n = ::read(fd, p, 4096);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(what);
    if (n == 0) break;
    b.commit(static_cast<size_t>(n));
    if (b.size() > (1u << 20)) throw Error(what + ": more than 1 MiB");
  }
  return b;
}

// --secret id=ID,src=FILE | id=ID,env=VAR (never quoting a value in an error).
// "k=v,k2=v2,flag" as (key, value) pairs in order (a bare flag has an empty value).
std::vector<std::pair<std::string, std::string>> split_options(const std::string& spec) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    std::string part = spec.substr(pos, comma - pos);
    pos = comma + 1;
    size_t eq = part.find('=');
    out.emplace_back(part.substr(0, eq), eq == std::string::npos ? "" : part.substr(eq + 1));
  }
  return out;
}

std::vector<SecretSource> load_secrets(const std::vector<std::string>& specs) {
  std::vector<SecretSource> out;
  for (const auto& spec : specs) {
    std::string id, src, env;
    for (const auto& [k, v] : split_options(spec)) {
      if (k == "id") id = v;
      else if (k == "src" || k == "source") src = v;
      else if (k == "env") env = v;
      else if (k == "type" && (v == "file" || v == "env")) continue;
      else throw Error("--secret " + spec + ": unknown option " + k + " (expected id=ID,src=FILE or id=ID,env=VAR)");
    }
    if (id.empty()) throw Error("--secret " + spec + ": needs id=ID");
    if (src.empty() == env.empty()) throw Error("--secret " + spec + ": needs one of src=FILE or env=VAR");
    for (const auto& o : out)
      if (o.id == id) throw Error("--secret " + spec + ": secret " + id + " is given twice");
    SecretSource s{id, {}};
    if (!src.empty()) {
      UniqueFd f = with_context("--secret " + id, [&] { return open_file(src, O_RDONLY); });
      s.value = read_secret_fd(f.get(), "--secret " + id + ": read " + src);
    } else {
      const char* v = std::getenv(env.c_str());
      if (!v) throw Error("--secret " + id + ": environment variable " + env + " is not set");
      s.value.append(v);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string join_path(const std::string& base, const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  return (base.empty() || base == "/" ? std::string("/") : base + "/") + p;
}

class Builder {
 public:
  explicit Builder(const BuildRequest& r) : r_(r), store_(r.store_root) {}

  BuildOutcome run() {
    plan_build_network();
    epoch_ = r_.source_date_epoch.value_or(0);
    for (const auto& t : r_.tags) image::normalize_name(t);  // a bad name fails before any work
    std::string dockerfile = r_.dockerfile.empty() ? r_.context + "/Dockerfile" : r_.dockerfile;
    std::string text = with_context("read " + dockerfile, [&] { return read_file(dockerfile); });
    df_ = parse_dockerfile(text, dockerfile_label(dockerfile));
    context_fd_ =
        with_context("build context " + r_.context, [&] { return open_file(r_.context, O_PATH | O_DIRECTORY); });
    if (auto ig = read_file_if_exists(r_.context + "/.dockerignore")) ignore_ = IgnoreRules::parse(*ig);
    if (!r_.secrets.empty()) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    secrets_ = load_secrets(r_.secrets);
    parse_build_args();

    size_t last = df_.stages.size() - 1;
    if (!r_.target.empty()) {
      auto it = std::find_if(df_.stages.begin(), df_.stages.end(), [&](const Stage& s) { return s.name == r_.target; });
      if (it == df_.stages.end()) throw Error("--target " + r_.target + ": no stage of that name in " + df_.file);
      last = static_cast<size_t>(it - df_.stages.begin());
    }
    check_secret_ids(last);
    for (size_t i = 0; i <= last; ++i) total_ += 1 + df_.stages[i].instructions.size();

    LintOptions lo;
    lo.layers_checked_later = true;
    lo.target = r_.target;
    outcome_.findings = lint_dockerfile(df_, lo);

    auto lock = store_.lock_shared();
    image::clean_stale_temp(store_.tmp_dir());
    for (size_t i = 0; i <= last; ++i) stages_.push_back(build_stage(df_.stages[i]));
    for (const auto& [k, used] : build_args_used_)
      if (!used && !kProxyArgs.count(k) && r_.warning)
        r_.warning("build arg " + k + " was given but no ARG declares it");
    return commit(stages_.back());
  }

 private:
  static std::string dockerfile_label(const std::string& path) {
    size_t s = path.rfind('/');
    return s == std::string::npos ? path : path.substr(s + 1);
  }

  // none and host need nothing; a name must be a network that exists (before any step runs).
  void plan_build_network() {
    const std::string& n = r_.network;
    if (n == "none" || n == "host") return;
    if (n.rfind("container:", 0) == 0)
      throw Error("build --network " + n +
                  ": RUN steps cannot join another container's network (use none, host "
                  "or a network's name)");
    network_ = plan_network({n, "", {}, {}}, r_.store_root, RunRecords(default_run_root()));
  }

  void parse_build_args() {
    for (const auto& a : r_.build_args) {
      size_t eq = a.find('=');
      std::string k = a.substr(0, eq);
      if (k.empty()) throw Error("--build-arg " + a + ": expected NAME=VALUE");
      if (eq == std::string::npos) {
        const char* v = std::getenv(k.c_str());
        if (!v) continue;
        build_args_[k] = v;
      } else {
        build_args_[k] = a.substr(eq + 1);
      }
      build_args_used_[k] = false;
    }
  }

  void check_secret_ids(size_t last) {
    for (size_t i = 0; i <= last; ++i)
      for (const auto& ins : df_.stages[i].instructions)
        if (ins.keyword == "RUN")
          for (const auto& m : ins.flag_values("mount")) parse_mount(ins, m);  // throws for an unknown id
  }

  // `elapsed`: for output, the seconds since its RUN began, which the plain line shows first.
  void report(BuildProgress::Kind kind, int step, const std::string& detail, const std::string& elapsed = "") {
    if (!r_.progress) return;
    std::string plain = "#" + std::to_string(step) + " ";
    switch (kind) {
      case BuildProgress::Kind::cached: plain += "CACHED"; break;
      case BuildProgress::Kind::done: plain += "DONE " + detail; break;
      case BuildProgress::Kind::output: plain += elapsed + " " + detail; break;
      case BuildProgress::Kind::step: plain += detail; break;
    }
    r_.progress(BuildProgress{kind, step, plain, detail});
  }

  image::Digest step_key(const image::Digest& parent, const std::string& text) {
    return image::sha256_of(parent.str() + "\n" + text);
  }

  BuildVars vars(const StageState& st) const {
    BuildVars v = st.args;
    for (const auto& e : config_env(st.config)) {
      size_t eq = e.find('=');
      if (eq != std::string::npos) v[e.substr(0, eq)] = e.substr(eq + 1);
    }
    return v;
  }

  // --- stages ---

  StageState build_stage(const Stage& stage) {
    StageState st;
    st.name = stage.name.empty() ? std::to_string(stage.index) : stage.name;
    size_t n = 1 + stage.instructions.size();
    std::string label = stage.name.empty() ? "" : stage.name + " ";
    auto t0 = begin_step(label + "1/" + std::to_string(n), stage.from.text);
    from(stage, st);
    end_step(t0, true);  // nothing to do: the base is a stored image, scratch or a built stage
    for (size_t i = 0; i < stage.instructions.size(); ++i) {
      const Instruction& ins = stage.instructions[i];
      auto t = begin_step(label + std::to_string(i + 2) + "/" + std::to_string(n), ins.text);
      bool cached = step(ins, st);  // errors name the file, line and instruction themselves
      while (st.origins.size() < st.layers.size())
        st.origins.push_back({where(df_, ins), ins.keyword, ins.text, ins.line, cached});
      end_step(t, cached);
    }
    return st;
  }

  std::chrono::steady_clock::time_point begin_step(const std::string& pos, const std::string& text) {
    ++step_no_;
    std::string shown = text.size() > 200 ? text.substr(0, 200) + "..." : text;
    for (auto& c : shown)
      if (c == '\n') c = ' ';
    report(BuildProgress::Kind::step, step_no_, "[" + pos + "] " + shown);
    return std::chrono::steady_clock::now();
  }

  void end_step(std::chrono::steady_clock::time_point t0, bool cached) {
    ++outcome_.steps;
    if (cached) {
      ++outcome_.cached;
      report(BuildProgress::Kind::cached, step_no_, "");
      return;
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", s);
    report(BuildProgress::Kind::done, step_no_, buf);
  }

  const StageState* find_stage(const std::string& name) const {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& s : stages_)
      if (s.name == lower) return &s;
    return nullptr;
  }

  void from(const Stage& stage, StageState& st) {
    const Instruction& ins = stage.from;
    std::string what = where(df_, ins);
    BuildVars globals = global_args();
    auto words = expand_words(ins.args, globals, df_.escape, what);
    const std::string& base = words.at(0);
    if (const StageState* prev = find_stage(base)) {
      std::string name = st.name;
      st = *prev;
      st.name = name;
      st.args.clear();
    } else if (base == "scratch") {
      st.config = scratch_config();
      st.key = image::sha256_of("FROM scratch");
    } else {
      image::Image img;
      try {
        img = store_.resolve(base);
      } catch (const Error&) {
        throw Error(what + ": image " + base + " is not in the store (kiln pull or kiln load it first)");
      }
      st.layers = img.record.layers;
      st.origins.assign(st.layers.size(), BuiltLayerInfo{});
      st.config = nlohmann::json::parse(img.config_json);
      st.key = image::sha256_of("FROM " + img.record.id.str());
      for (const auto& l : st.layers)
        if (!store_.layer(l.chain_id))
          throw Error(what + ": layer " + l.chain_id.str() + " of " + base + " is missing");
    }
    st.cmd_from_base = true;
    st.shell = {"/bin/sh", "-c"};
    if (st.config.contains("config") && st.config["config"].is_object() && st.config["config"].contains("Shell") &&
        st.config["config"]["Shell"].is_array() && !st.config["config"]["Shell"].empty())
      st.shell = st.config["config"]["Shell"].get<std::vector<std::string>>();
  }

  BuildVars global_args() {
    BuildVars v;
    for (const auto& ins : df_.global_args) {
      for (const auto& kv : expand_key_values(ins.args, v, df_.escape, where(df_, ins), false, true)) {
        auto it = build_args_.find(kv.key);
        if (it != build_args_.end()) {
          v[kv.key] = it->second;
          build_args_used_[kv.key] = true;
        } else if (kv.has_value) {
          v[kv.key] = kv.value;
        }
        global_defaults_[kv.key] = v.count(kv.key) ? v[kv.key] : "";
      }
    }
    return v;
  }

  // --- one step: true when it came from the cache ---

  bool step(const Instruction& ins, StageState& st) {
    const std::string& k = ins.keyword;
    std::string what = where(df_, ins);
    if (k == "RUN") return run_step(ins, st);
    if (k == "COPY" || k == "ADD") return copy_step(ins, st);
    BuildVars v = vars(st);
    nlohmann::json& c = st.config["config"];
    if (!c.is_object()) c = nlohmann::json::object();
    std::string canonical = k;
    if (k == "ENV") {
      auto kvs = expand_key_values(ins.args, v, df_.escape, what, true, false);
      for (const auto& kv : kvs) {
        set_config_env(st.config, kv.key, kv.value);
        canonical += " " + kv.key + "=" + kv.value;
      }
    } else if (k == "ARG") {
      for (const auto& kv : expand_key_values(ins.args, v, df_.escape, what, false, true)) {
        std::string value = kv.value;
        bool has = kv.has_value;
        auto it = build_args_.find(kv.key);
        if (it != build_args_.end()) {
          value = it->second;
          has = true;
          build_args_used_[kv.key] = true;
        } else if (!has && global_defaults_.count(kv.key)) {
          value = global_defaults_[kv.key];
          has = true;
        }
        if (has) st.args[kv.key] = value;
        else st.args.erase(kv.key);
        canonical += " " + kv.key + (has ? "=" + value : "");
      }
    } else if (k == "LABEL") {
      if (!c.contains("Labels") || !c["Labels"].is_object()) c["Labels"] = nlohmann::json::object();
      for (const auto& kv : expand_key_values(ins.args, v, df_.escape, what, true, false)) {
        c["Labels"][kv.key] = kv.value;
        canonical += " " + kv.key + "=" + kv.value;
      }
    } else if (k == "MAINTAINER") {
      st.config["author"] = expand_word(ins.args, v, df_.escape, what);
      canonical += " " + st.config["author"].get<std::string>();
    } else if (k == "EXPOSE") {
      if (!c.contains("ExposedPorts") || !c["ExposedPorts"].is_object()) c["ExposedPorts"] = nlohmann::json::object();
      for (auto p : expand_words(ins.args, v, df_.escape, what)) {
        if (p.find('/') == std::string::npos) p += "/tcp";
        size_t slash = p.find('/');
        std::string port = p.substr(0, slash), proto = p.substr(slash + 1);
        bool digits = !port.empty() && std::all_of(port.begin(), port.end(),
                                                   [](char ch) { return (ch >= '0' && ch <= '9') || ch == '-'; });
        if (!digits || (proto != "tcp" && proto != "udp" && proto != "sctp"))
          throw Error(what + " " + p + ": expected PORT[/tcp|udp|sctp]");
        c["ExposedPorts"][p] = nlohmann::json::object();
        canonical += " " + p;
      }
    } else if (k == "USER" || k == "STOPSIGNAL") {
      auto w = expand_words(ins.args, v, df_.escape, what);
      if (w.size() != 1) throw Error(what + ": expects exactly one argument");
      c[k == "USER" ? "User" : "StopSignal"] = w[0];
      canonical += " " + w[0];
    } else if (k == "WORKDIR") {
      std::string dir = expand_word(ins.args, v, df_.escape, what);
      if (dir.empty()) throw Error(what + ": expects a directory");
      c["WorkingDir"] = clean_relative(join_path(config_string(st.config, "WorkingDir"), dir)).str().insert(0, "/");
      canonical += " " + c["WorkingDir"].get<std::string>();
    } else if (k == "CMD" || k == "ENTRYPOINT") {
      std::vector<std::string> cmd = ins.exec_form ? ins.exec_args : st.shell;
      if (!ins.exec_form) cmd.push_back(ins.args);
      c[k == "CMD" ? "Cmd" : "Entrypoint"] = cmd;
      if (k == "CMD") st.cmd_from_base = false;
      else if (st.cmd_from_base) c["Cmd"] = nullptr;  // docker: a new ENTRYPOINT drops the base's CMD
      canonical += " " + nlohmann::json(cmd).dump();
    } else if (k == "VOLUME") {
      std::vector<std::string> vols = ins.exec_form ? ins.exec_args : expand_words(ins.args, v, df_.escape, what);
      if (!c.contains("Volumes") || !c["Volumes"].is_object()) c["Volumes"] = nlohmann::json::object();
      for (const auto& vol : vols) {
        if (vol.empty()) throw Error(what + ": an empty path");
        c["Volumes"][vol] = nlohmann::json::object();
        canonical += " " + vol;
      }
    } else if (k == "SHELL") {
      st.shell = ins.exec_args;
      c["Shell"] = ins.exec_args;
      canonical += " " + nlohmann::json(ins.exec_args).dump();
    } else if (k == "HEALTHCHECK") {
      std::string a = ins.args;
      std::string first = a.substr(0, a.find_first_of(" \t"));
      for (auto& ch : first) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (first == "NONE") {
        c["Healthcheck"] = {{"Test", {"NONE"}}};
      } else if (first == "CMD") {
        std::string rest = a.substr(3);
        rest.erase(0, rest.find_first_not_of(" \t"));
        std::vector<std::string> cmdv;
        nlohmann::json j = nlohmann::json::parse(rest, nullptr, false);
        if (!j.is_discarded() && j.is_array()) {
          cmdv.push_back("CMD");
          for (const auto& e : j) cmdv.push_back(e.is_string() ? e.get<std::string>() : e.dump());
        } else {
          cmdv = {"CMD-SHELL", rest};
        }
        c["Healthcheck"] = {{"Test", cmdv}};
      } else {
        throw Error(what + ": expects NONE or CMD command");
      }
      canonical += " " + c["Healthcheck"].dump();
    }
    // Metadata steps are cached too, so a rebuild says CACHED for each; they cost nothing.
    image::Digest key = step_key(st.key, canonical);
    bool cached = !r_.no_cache && image::read_build_cache(store_.root(), key).has_value();
    if (!cached) image::write_build_cache(store_.root(), key, {});
    st.key = key;
    add_history(st.config, history_text(ins, canonical), true, epoch_);
    return cached;
  }

  static std::string history_text(const Instruction& ins, const std::string& canonical) {
    return ins.keyword == "ARG" ? "ARG" : canonical;  // an ARG's value may be private: not in the image
  }

  // --- layer steps ---

  std::vector<std::string> layer_dirs(const std::vector<image::LayerRecord>& layers) const {
    std::vector<std::string> out;
    for (const auto& l : layers) out.push_back(store_.layer_path(l.chain_id) + "/diff");
    return out;
  }

  // The cached layer of key, when both it and its blob are still stored.
  std::optional<image::LayerRecord> cached_layer(const image::Digest& key, bool& metadata_only) {
    metadata_only = false;
    if (r_.no_cache) return std::nullopt;
    auto e = image::read_build_cache(store_.root(), key);
    if (!e) return std::nullopt;
    if (!e->chain_id) {
      metadata_only = true;
      return std::nullopt;
    }
    auto lr = store_.layer(*e->chain_id);
    if (!lr || !store_.has_blob(lr->digest)) return std::nullopt;
    return lr;
  }

  // Finishes a layer step whose changes are in work/upper: no changes, no layer.
  void commit_step(const image::TempDir& work, StageState& st, const image::Digest& key, const std::string& history) {
    std::string upper = work.path() + "/upper";
    bool empty = true;
    {
      UniqueFd d = open_file(upper, O_RDONLY | O_DIRECTORY);
      DirStreamNames names(d.get(), upper);
      empty = names.empty;
    }
    if (empty) {
      image::write_build_cache(store_.root(), key, {});
      add_history(st.config, history, true, epoch_);
    } else {
      std::string commit_dir = work.path() + "/commit";
      mkdir_p(commit_dir, 0700);
      image::LayerRecord lr;
      if (in_initial_user_namespace()) {
        lr = image::commit_layer_dir(store_, upper, st.layers, commit_dir, epoch_);
      } else {
        // Rootless, the step's overlay keeps its marks in user.overlay.* xattrs (userxattr) or
        // is fuse-overlayfs: the tar is unpacked into the store's form, as a loaded layer is.
        std::string tar = work.path() + "/layer.tar";
        image::write_layer_tar(upper, tar, epoch_);
        lr = image::commit_layer_tar(store_, tar, st.layers, commit_dir);
      }
      image::write_build_cache(store_.root(), key, {lr.chain_id, lr.digest});
      st.layers.push_back(lr);
      add_history(st.config, history, false, epoch_);
    }
    st.key = key;
  }

  struct DirStreamNames {
    DirStreamNames(int fd, const std::string& what);
    bool empty = true;
  };

  bool use_cache(const image::Digest& key, StageState& st, const std::string& history) {
    bool metadata_only = false;
    auto lr = cached_layer(key, metadata_only);
    if (metadata_only) {
      st.key = key;
      add_history(st.config, history, true, epoch_);
      return true;
    }
    if (!lr) return false;
    st.layers.push_back(*lr);
    st.key = key;
    add_history(st.config, history, false, epoch_);
    return true;
  }

  RootfsPlan step_plan(const image::TempDir& work, const std::vector<image::LayerRecord>& layers, bool with_init) {
    mkdir_p(work.path() + "/empty", 0755);
    mkdir_p(work.path() + "/empty2", 0755);
    std::string init = with_init ? init_layer(store_.root()) : work.path() + "/empty2";
    RootfsPlan plan = plan_rootfs(layer_dirs(layers), init, work.path(), false, work.path() + "/empty");
    mkdir_p(plan.upper_dir, 0755);
    mkdir_p(plan.work_dir, 0700);
    return plan;
  }

  struct ParsedMount {
    enum class Type { secret, cache } type = Type::secret;
    std::string id, target, env;
  };

  ParsedMount parse_mount(const Instruction& ins, const std::string& spec) {
    std::string what = where(df_, ins) + " --mount=" + spec;
    ParsedMount m;
    std::string type;
    bool required = false;
    for (const auto& [key, val] : split_options(spec)) {
      if (key == "type") type = val;
      else if (key == "id") m.id = val;
      else if (key == "target" || key == "dst" || key == "destination") m.target = val;
      else if (key == "env") m.env = val;
      else if (key == "required") required = val.empty() || val == "true";
      else if (key == "sharing" || key == "mode" || key == "uid" || key == "gid") continue;
      else throw Error(what + ": unknown option " + key);
    }
    (void)required;  // a secret that is not given is always an error here
    if (type == "secret") {
      m.type = ParsedMount::Type::secret;
      if (m.id.empty() && !m.target.empty()) m.id = m.target.substr(m.target.rfind('/') + 1);
      if (m.id.empty()) throw Error(what + ": needs id=ID");
      bool given = std::any_of(secrets_.begin(), secrets_.end(), [&](const SecretSource& s) { return s.id == m.id; });
      if (!given)
        throw Error(what + ": no secret " + m.id + " was given (kiln build --secret id=" + m.id + ",src=FILE)");
      if (m.target.empty() && m.env.empty()) m.target = "/run/secrets/" + m.id;
      if (!m.target.empty()) {
        CleanPath c = clean_relative(m.target);
        if (c.parts.size() != 3 || c.parts[0] != "run" || c.parts[1] != "secrets")
          throw Error(what + ": target must be /run/secrets/NAME (kiln mounts build secrets there only)");
      }
    } else if (type == "cache") {
      m.type = ParsedMount::Type::cache;
      if (m.target.empty() || m.target[0] != '/') throw Error(what + ": needs target=ABSOLUTE_DIR");
    } else {
      throw Error(what + ": type must be secret or cache (bind and tmpfs mounts are not supported)");
    }
    return m;
  }

  bool run_step(const Instruction& ins, StageState& st) {
    std::string what = where(df_, ins);
    std::vector<std::string> args;
    if (ins.exec_form) {
      args = ins.exec_args;
    } else if (!ins.heredocs.empty()) {
      std::string rest = ins.args;
      auto markers = find_heredoc_markers(ins.args);
      std::string without;
      size_t at = 0;
      for (const auto& m : markers) {
        without += rest.substr(at, m.begin - at);
        at = m.end;
      }
      without += rest.substr(at);
      bool only_markers = without.find_first_not_of(" \t") == std::string::npos;
      args = st.shell;
      if (only_markers && ins.heredocs.size() == 1) {
        args.push_back(ins.heredocs[0].body);
      } else {
        std::string script = ins.args + "\n";
        for (const auto& h : ins.heredocs) script += h.body + h.name + "\n";
        args.push_back(script);
      }
    } else {
      args = st.shell;
      args.push_back(ins.args);
    }
    std::vector<ParsedMount> mounts;
    std::string mount_text;
    for (const auto& m : ins.flag_values("mount")) {
      mounts.push_back(parse_mount(ins, m));
      mount_text += "--mount=" + m + " ";  // names and ids only: never a secret's value
    }
    // RUN --network=default is the build's network (kiln build --network).
    std::string net = r_.network;
    if (const auto* f = ins.flag("network")) {
      if (f->value == "host" || f->value == "none") net = f->value;
      else if (f->value != "default") throw Error(what + " --network=" + f->value + ": expected none, host or default");
    }
    const bool host_net = net == "host";
    // Build args reach the process as environment (the image's ENV wins), proxies too.
    std::vector<std::string> env;
    BuildVars argenv = st.args;
    for (const auto& [k, v] : build_args_)
      if (kProxyArgs.count(k)) argenv[k] = v;
    for (const auto& [k, v] : argenv) env.push_back(k + "=" + v);
    for (const auto& e : config_env(st.config)) env.push_back(e);

    // As docker's, the key leaves the network out: none, host or a named one, the same step.
    std::string canonical = "RUN " + mount_text + nlohmann::json(args).dump();
    for (const auto& [k, v] : st.args) canonical += " " + k + "=" + v;  // what the process sees
    std::string history = "RUN " + mount_text + join(args);
    image::Digest key = step_key(st.key, canonical + " env=" + nlohmann::json(config_env(st.config)).dump() +
                                             " workdir=" + config_string(st.config, "WorkingDir") +
                                             " user=" + config_string(st.config, "User"));
    if (use_cache(key, st, history)) return true;

    image::TempDir work(store_.tmp_dir());
    RootfsPlan plan = step_plan(work, st.layers, true);
    Mounted mounted(plan);
    BuildRunRequest rr;
    rr.store_root = store_.root();
    rr.container_dir = work.path();
    rr.args = args;
    rr.env = env;
    rr.workdir = config_string(st.config, "WorkingDir");
    if (rr.workdir.empty()) rr.workdir = "/";
    rr.user = config_string(st.config, "User");
    rr.host_network = host_net;
    if (net != "none" && net != "host") rr.network = &*network_;
    for (const auto& m : mounts) {
      if (m.type == ParsedMount::Type::secret) {
        const SecretSource* s = nullptr;
        for (const auto& x : secrets_)
          if (x.id == m.id) s = &x;
        BuildSecret bs;
        bs.id = m.id;
        if (!m.target.empty()) bs.file_name = m.target.substr(m.target.rfind('/') + 1);
        bs.env = m.env;
        bs.value = &s->value;
        rr.secrets.push_back(bs);
      } else {
        std::string dir = store_.root() + "/build-cache-mounts/" + image::sha256_of(m.id.empty() ? m.target : m.id).hex;
        mkdir_p(dir, 0755);
        rr.cache_mounts.push_back({dir, m.target});
      }
    }
    const int n = step_no_;
    auto t0 = std::chrono::steady_clock::now();
    rr.output = [this, n, t0](std::string_view line) {
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", s);
      report(BuildProgress::Kind::output, n, std::string(line), buf);
    };
    BuildRunResult res = run_build_step(rr);
    mounted.unmount();
    if (res.status != 0)
      throw RunStepFailed(what + ": " + join(args) + ": exit status " + std::to_string(res.status), res.status,
                          res.last_lines);
    commit_step(work, st, key, history);
    return false;
  }

  bool copy_step(const Instruction& ins, StageState& st) {
    std::string what = where(df_, ins);
    bool add = ins.keyword == "ADD";
    BuildVars v = vars(st);
    std::vector<std::string> words = ins.exec_form ? ins.exec_args : expand_words(ins.args, v, df_.escape, what);
    if (words.size() < 2) throw Error(what + ": expects at least one source and a destination");
    std::string dest_raw = words.back();
    words.pop_back();
    std::string workdir = config_string(st.config, "WorkingDir");
    std::string dest = join_path(workdir.empty() ? "/" : workdir, dest_raw);
    CopyOptions o;
    o.dest_is_dir_hint = !dest_raw.empty() && dest_raw.back() == '/';
    o.dest = "/" + clean_relative(dest).str();
    if (const auto* f = ins.flag("chown")) o.chown = expand_word(f->value, v, df_.escape, what);
    if (const auto* f = ins.flag("chmod")) {
      const std::string& m = f->value;
      if (m.empty() || m.size() > 4 || m.find_first_not_of("01234567") != std::string::npos)
        throw Error(what + " --chmod=" + m + ": expected an octal mode such as 0755");
      o.chmod = static_cast<mode_t>(std::stoul(m, nullptr, 8));
    }

    image::TempDir work(store_.tmp_dir());
    // The source: the context, another stage, or an image, resolved inside its own root.
    CopySource src;
    std::optional<Mounted> src_mount;
    UniqueFd src_fd;
    if (const auto* f = ins.flag("from")) {
      std::string from = expand_word(f->value, v, df_.escape, what);
      std::vector<image::LayerRecord> layers;
      const StageState* stage = find_stage(from);
      if (!stage && !from.empty() && std::all_of(from.begin(), from.end(), ::isdigit)) {
        size_t idx = std::stoul(from);
        if (idx < stages_.size()) stage = &stages_[idx];
      }
      if (stage) {
        layers = stage->layers;
      } else {
        image::Image img;
        try {
          img = store_.resolve(from);
        } catch (const Error&) {
          throw Error(what + " --from=" + from + ": no earlier stage and no image in the store has that name");
        }
        layers = img.record.layers;
      }
      std::string sdir = work.path() + "/src";
      mkdir_p(sdir + "/e1", 0755);
      mkdir_p(sdir + "/e2", 0755);
      if (layers.empty()) {
        src_fd = open_file(sdir + "/e1", O_PATH | O_DIRECTORY);
      } else {
        RootfsPlan sp = plan_rootfs(layer_dirs(layers), sdir + "/e1", sdir, true, sdir + "/e2");
        src_mount.emplace(sp);
        src_fd = open_file(sp.target, O_PATH | O_DIRECTORY);
      }
      src.root_fd = src_fd.get();
      src.keep_owner = true;
    } else {
      src.root_fd = context_fd_.get();
      src.ignore = &ignore_;
    }
    CopyPlan cp = plan_copy(src, words, ins.heredocs, add, what);
    image::Digest content = hash_copy(src, cp);
    std::string flags;
    for (const auto& f : ins.flags) flags += "--" + f.name + (f.has_value ? "=" + f.value : "") + " ";
    std::string canonical = ins.keyword + " " + flags + nlohmann::json(words).dump() + " " + o.dest +
                            (o.dest_is_dir_hint ? "/" : "") + " content=" + content.str();
    std::string history = ins.keyword + " " + flags + join(words) + " " + dest_raw + " # " + content.hex.substr(0, 12);
    image::Digest key = step_key(st.key, canonical);
    if (use_cache(key, st, history)) return true;

    RootfsPlan plan = step_plan(work, st.layers, false);
    Mounted mounted(plan);
    {
      UniqueFd root = open_file(plan.target, O_PATH | O_DIRECTORY);
      apply_copy(src, cp, root.get(), o, what);
    }
    mounted.unmount();
    src_mount.reset();
    commit_step(work, st, key, history);
    return false;
  }

  // --- the image ---

  BuildOutcome commit(const StageState& st) {
    std::string config_json = finish_config(st.config, st.layers, epoch_);
    image::Manifest man;
    man.media_type = image::media::oci_manifest;
    man.config = image::Descriptor{std::string(image::media::oci_config),
                                   image::sha256_of(config_json),
                                   static_cast<int64_t>(config_json.size()),
                                   {},
                                   {}};
    for (const auto& l : st.layers) man.layers.push_back(image::Descriptor{l.media_type, l.digest, l.size, {}, {}});
    std::string manifest_json = image::manifest_to_json(man);
    image::Digest mdigest = image::sha256_of(manifest_json);
    store_.put_blob(man.config.digest, config_json);
    store_.put_blob(mdigest, manifest_json);
    image::ImageRecord rec;
    rec.id = man.config.digest;
    rec.manifest = mdigest;
    for (const auto& t : r_.tags) rec.names.push_back(image::normalize_name(t));
    rec.layers = st.layers;
    rec.created = epoch_rfc3339(epoch_);
    rec.loaded = now_rfc3339_local();
    store_.commit_image(rec);
    outcome_.id = rec.id;
    std::vector<BuiltLayer> checked;
    for (size_t i = 0; i < st.layers.size(); ++i) {
      const BuiltLayerInfo& o = st.origins[i];
      outcome_.layers.push_back({o.where, o.text, st.layers[i].diff_id, st.layers[i].diff_size, o.cached});
      checked.push_back({store_.layer_path(st.layers[i].chain_id) + "/diff", o.where, o.keyword, o.line});
    }
    for (auto& f : checked_layers(st, checked)) outcome_.findings.push_back(std::move(f));
    return outcome_;
  }

  // The layer checks read every byte of the build's layers; layers never change (a chain id
  // names their content), so the findings are kept per list of layers and steps and a cached
  // rebuild reads them back. They hold steps and paths only, never a file's content.
  std::vector<BuildFinding> checked_layers(const StageState& st, const std::vector<BuiltLayer>& checked) {
    std::string id = "layer-checks v1\n";
    for (size_t i = 0; i < checked.size(); ++i)
      id += st.layers[i].chain_id.str() + " " + checked[i].where + " " + checked[i].keyword + "\n";
    std::string dir = store_.root() + "/build-cache/checks";
    std::string path = dir + "/" + image::sha256_of(id).hex + ".json";
    if (!r_.no_cache)
      if (auto text = read_file_if_exists(path))
        if (auto found = build_findings_from_json(nlohmann::json::parse(*text, nullptr, false))) return *found;
    auto found = check_layers(checked);
    mkdir_p(dir, 0700);
    write_file_atomic(path, build_findings_json(found).dump(), 0600);
    return found;
  }

  static std::string now_rfc3339_local() { return epoch_rfc3339(static_cast<int64_t>(::time(nullptr))); }

  const BuildRequest& r_;
  image::Store store_;
  Dockerfile df_;
  UniqueFd context_fd_;
  IgnoreRules ignore_;
  std::vector<SecretSource> secrets_;
  std::map<std::string, std::string> build_args_;
  std::map<std::string, bool> build_args_used_;
  std::map<std::string, std::string> global_defaults_;
  std::vector<StageState> stages_;
  int64_t epoch_ = 0;
  size_t total_ = 0;
  int step_no_ = 0;
  BuildOutcome outcome_;
  std::optional<NetworkPlan> network_;  // the build's named network (not none or host)
};

Builder::DirStreamNames::DirStreamNames(int fd, const std::string& what) {
  DirStream ds(fd, what);
  while (const dirent* e = ds.next()) {
    std::string n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      return;
    }
  }
}

}  // namespace

BuildOutcome build(const BuildRequest& request) { return Builder(request).run(); }

}  // namespace kiln::engine

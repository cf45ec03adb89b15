// How command files declare their flags, options and subcommands, without CLI11. CLI11 2.1.2 is
// header-only and costs 5-6 s of compile time in every file that includes it, even from a
// precompiled header, so only cli/args.cpp does: the command files see these handles, and
// args.cpp forwards each call to CLI11.
// There is one overload per type a command reads (no templates: a template would need CLI11
// here); a new type is one more overload in both files.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace CLI {  // opaque: only cli/args.cpp knows what they are
class App;
class Option;
}  // namespace CLI

namespace kiln::cli {

// An option or positional argument, as CLI11 made it. The modifiers return *this to chain.
class Option {
 public:
  explicit Option(CLI::Option* option) : option_(option) {}

  Option& required();
  // A repeatable option takes one value per use: `-e A -e B`; in `-e A B`, B is a positional.
  Option& one_value_per_flag();
  // Any other value is a parse error ("--format: xml not in {table,json}").
  Option& one_of(const std::vector<std::string>& values);

 private:
  CLI::Option* option_;
};

// A command or subcommand. A handle: the parsed state lives in the Program that owns it, so a
// copy is cheap and an action can keep one to ask what was parsed.
class Command {
 public:
  explicit Command(CLI::App* app) : app_(app) {}

  // names: "-s,--long" for a flag or option, "NAME" for a positional.
  Option add_flag(const std::string& names, bool& value, const std::string& description = "");
  Option add_option(const std::string& names, std::string& value, const std::string& description = "");
  Option add_option(const std::string& names, int& value, const std::string& description = "");
  Option add_option(const std::string& names, int64_t& value, const std::string& description = "");
  Option add_option(const std::string& names, std::vector<std::string>& values, const std::string& description = "");
  Option add_option(const std::string& names, std::vector<unsigned>& values, const std::string& description = "");
  Option add_option(const std::string& names, std::optional<int64_t>& value, const std::string& description = "");
  Option add_option(const std::string& names, std::optional<uint64_t>& value, const std::string& description = "");
  Option add_option(const std::string& names, std::optional<std::string>& value, const std::string& description = "");
  // Takes a value and drops it: runc flags that callers pass and kiln has no use for.
  Option add_ignored_option(const std::string& names, const std::string& description);

  Command add_subcommand(const std::string& name, const std::string& description);
  Command& alias(const std::string& name);
  Command& require_subcommand(int count);
  // Left out of --help: for commands kiln runs itself, not a person.
  Command& hide();
  // Stops parsing at the first argument that is not one of this command's: it and everything
  // after it, options included, are left for remaining() (`kiln run IMAGE CMD -x`).
  Command& prefix_command();
  // Unknown arguments are not an error (they are dropped).
  Command& allow_extras();
  Command& set_help_flag(const std::string& names, const std::string& description);

  // After parsing:
  bool parsed() const;  // this command was on the command line
  bool got_subcommand(const std::string& name) const;
  std::vector<std::string> remaining() const;

 protected:
  CLI::App* app_;
};

// A tool's top-level command: owns every command under it, and parses.
class Program : public Command {
 public:
  Program(const std::string& description, const std::string& name);
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  Program& set_version_flag(const std::string& names, const std::string& version);
  // nullopt when the command line parsed. Otherwise (an error, --help, --version) CLI11 has
  // printed what it prints and this is its exit status (0 for --help and --version).
  std::optional<int> parse(int argc, char** argv);
  // The first argument that is neither one of this program's own options nor the value of one:
  // the command's name, when the line has one (empty otherwise). Read before any command is
  // installed, so that only that one need be.
  std::string first_positional(int argc, char** argv) const;

 private:
  std::unique_ptr<CLI::App> owned_;
};

}  // namespace kiln::cli

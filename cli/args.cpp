// The one file that includes CLI11 (see cli/args.hpp). Each call is CLI11's own, with the
// same arguments the command files used to pass it, so help text, parse errors and exit
// statuses are CLI11's as before.
#include "cli/args.hpp"

#include <CLI/CLI.hpp>

namespace kiln::cli {

Option& Option::required() {
  option_->required();
  return *this;
}

Option& Option::one_value_per_flag() {
  option_->allow_extra_args(false);
  return *this;
}

Option& Option::one_of(const std::vector<std::string>& values) {
  option_->check(CLI::IsMember(values));
  return *this;
}

Option Command::add_flag(const std::string& names, bool& value, const std::string& description) {
  return Option(app_->add_flag(names, value, description));
}

// CLI11 picks the parsing, the type name in the help and the number of values from the type.
Option Command::add_option(const std::string& names, std::string& value, const std::string& description) {
  return Option(app_->add_option(names, value, description));
}
Option Command::add_option(const std::string& names, int& value, const std::string& description) {
  return Option(app_->add_option(names, value, description));
}
Option Command::add_option(const std::string& names, int64_t& value, const std::string& description) {
  return Option(app_->add_option(names, value, description));
}
Option Command::add_option(const std::string& names, std::vector<std::string>& values, const std::string& description) {
  return Option(app_->add_option(names, values, description));
}
Option Command::add_option(const std::string& names, std::vector<unsigned>& values, const std::string& description) {
  return Option(app_->add_option(names, values, description));
}
Option Command::add_option(const std::string& names, std::optional<int64_t>& value, const std::string& description) {
  return Option(app_->add_option(names, value, description));
}
Option Command::add_option(const std::string& names, std::optional<uint64_t>& value, const std::string& description) {
  return Option(app_->add_option(names, value, description));
}
Option Command::add_option(const std::string& names, std::optional<std::string>& value,
                           const std::string& description) {
  return Option(app_->add_option(names, value, description));
}

Option Command::add_ignored_option(const std::string& names, const std::string& description) {
  return Option(app_->add_option(names, CLI::callback_t(), description, false));
}

Command Command::add_subcommand(const std::string& name, const std::string& description) {
  return Command(app_->add_subcommand(name, description));
}

Command& Command::alias(const std::string& name) {
  app_->alias(name);
  return *this;
}

Command& Command::hide() {
  app_->group("");
  return *this;
}

Command& Command::require_subcommand(int count) {
  app_->require_subcommand(count);
  return *this;
}

Command& Command::prefix_command() {
  app_->prefix_command();
  return *this;
}

Command& Command::allow_extras() {
  app_->allow_extras();
  return *this;
}

Command& Command::set_help_flag(const std::string& names, const std::string& description) {
  app_->set_help_flag(names, description);
  return *this;
}

bool Command::parsed() const { return app_->parsed(); }

// Only the command on the line may have been installed: a name with no command is not an error.
bool Command::got_subcommand(const std::string& name) const {
  auto found = app_->get_subcommands([&](const CLI::App* sub) { return sub->get_name() == name; });
  return !found.empty() && found.front()->parsed();
}

std::vector<std::string> Command::remaining() const { return app_->remaining(); }

Program::Program(const std::string& description, const std::string& name)
    : Command(new CLI::App(description, name)), owned_(app_) {}

Program::~Program() = default;

Program& Program::set_version_flag(const std::string& names, const std::string& version) {
  app_->set_version_flag(names, version);
  return *this;
}

std::string Program::first_positional(int argc, char** argv) const {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (arg.size() < 2 || arg[0] != '-') return arg;
    if (arg.find('=') != std::string::npos) continue;  // --name=value
    const CLI::Option* opt = app_->get_option_no_throw(arg);
    // A flag expects no value (CLI11 still gives it a type size of 1); an option's value is the
    // next argument.
    if (opt && opt->get_items_expected_max() > 0) ++i;
  }
  return "";
}

std::optional<int> Program::parse(int argc, char** argv) {
  try {
    app_->parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    return app_->exit(e);  // prints the help, the version or the error line and its hint
  }
}

}  // namespace kiln::cli

// The command line: subcommands, and usage errors that say what to do.
#include "crawler/cli.h"

#include <algorithm>
#include <iostream>

#include "common/version.h"
#include "crawler/cli_common.h"
#include "crawler/options.h"

namespace webcrawl::crawler {

int fail(const Error& e) {
  std::cerr << "webcrawl: " << e.message << "\n";
  return e.code == Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

namespace {

// One line for a usage error, with a hint from what was typed: the command
// meant, the option meant, and the help of the subcommand at hand.
std::string usage_message(const CLI::App& app, const std::vector<Command>& commands, int argc, char** argv,
                          const CLI::ParseError& e) {
  std::vector<std::string> names;
  for (const Command& c : commands) names.push_back(c.app->get_name());
  const CLI::App* sub = nullptr;
  std::string typed = argc > 1 ? argv[1] : "";
  for (const Command& c : commands) {
    if (typed == c.app->get_name()) sub = c.app;
  }
  if (!sub) {
    if (typed.empty() || typed[0] == '-') return "give a command: " + [&] {
      std::string all;
      for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
      return all;
    }() + " (see webcrawl --help)";
    auto hint = closest_name(typed, names);
    return "unknown command '" + typed + "'" + (hint ? " (did you mean " + *hint + "?)" : "") +
           "; see webcrawl --help";
  }
  const std::string help = "see webcrawl " + sub->get_name() + " --help";
  std::vector<std::string> flags;
  for (const CLI::Option* o : sub->get_options()) {
    for (const std::string& n : o->get_lnames()) flags.push_back("--" + n);
  }
  for (int i = 2; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) != 0) continue;
    std::string name = arg.substr(0, arg.find('='));
    if (std::find(flags.begin(), flags.end(), name) != flags.end()) continue;
    auto hint = closest_name(name, flags);
    return "unknown option " + name + (hint ? " (did you mean " + *hint + "?)" : "") + "; " + help;
  }
  (void)app;
  std::string what = e.what();
  std::replace(what.begin(), what.end(), '\n', ' ');
  return what + "; " + help;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"webcrawl: a polite, concurrent web crawler that stores pages, text and links in SQLite"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("webcrawl ") + kVersion);
  std::vector<Command> commands;
  add_crawl_command(app, commands);
  add_read_commands(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "webcrawl: " << usage_message(app, commands, argc, argv, e) << "\n";
    return kExitUsage;
  }
  for (const Command& c : commands) {
    if (*c.app) return c.run();
  }
  return kExitUsage;
}

}  // namespace webcrawl::crawler

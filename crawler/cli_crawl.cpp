// `webcrawl crawl`: options from the table (options.h), a config file, seed
// files; everything checked before any file is created; the crawl; its exit
// status.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "crawler/cli_common.h"
#include "crawler/config.h"
#include "crawler/crawler.h"
#include "crawler/seeds.h"

namespace webcrawl::crawler {
namespace {

// An option's value as --help shows it: "1", "host", "" for none.
std::string default_text(const OptionValue& v) {
  if (auto d = std::get_if<double>(&v)) {
    std::ostringstream s;
    s << *d;
    return s.str();
  }
  if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto t = std::get_if<std::string>(&v)) return *t;
  return "";
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

struct CrawlArgs {
  std::vector<std::string> seed_urls;
  std::string seeds_file, config_file;
  std::vector<std::vector<std::string>> texts = std::vector<std::vector<std::string>>(crawl_options().size());
  std::vector<bool> flags = std::vector<bool>(crawl_options().size(), false);
};

// The crawl's options: the file, then the flags over it, then the seeds;
// then what no single option can check. Nothing is created or modified.
Result<CrawlOptions> crawl_options_from(const CrawlArgs& args) {
  CrawlOptions o;
  if (!args.config_file.empty()) {
    if (auto r = apply_config_file(args.config_file, o); !r) return r.error();
  }
  for (std::size_t i = 0; i < crawl_options().size(); ++i) {
    const OptionSpec& spec = crawl_options()[i];
    if (args.flags[i]) spec.set(o, OptionValue(std::string_view(spec.flag_name()).substr(0, 5) != "--no-"));
    // A repeated list flag is one list: it adds to (or, for some, replaces)
    // what the file said once, not once per value.
    std::vector<std::string> items;
    for (const std::string& text : args.texts[i]) {
      auto value = parse_option_text(spec, text);
      if (!value) return value.error();
      if (spec.kind != OptionSpec::Kind::kList) {
        spec.set(o, *value);
        continue;
      }
      for (std::string& item : std::get<std::vector<std::string>>(*value)) items.push_back(std::move(item));
    }
    if (!items.empty()) spec.set(o, OptionValue(std::move(items)));
  }
  if (o.proxy.empty()) {
    // curl's convention: lowercase http_proxy only (HTTP_PROXY can come
    // from a request header in CGI), either case for the others.
    o.http_proxy = env("http_proxy");
    o.https_proxy = env("https_proxy").empty() ? env("HTTPS_PROXY") : env("https_proxy");
    o.no_proxy = env("no_proxy").empty() ? env("NO_PROXY") : env("no_proxy");
  }
  if (auto r = check_options(o); !r) return r.error();
  std::vector<std::string> given = o.seeds;  // from the config file
  given.insert(given.end(), args.seed_urls.begin(), args.seed_urls.end());
  o.seeds.clear();
  for (const std::string& s : given) {
    auto href = seed_url(s);
    if (!href) return Error{Code::kInvalidArgument, "invalid seed URL " + href.error().message};
    o.seeds.push_back(std::move(*href));
  }
  if (!args.seeds_file.empty()) {
    auto list = read_seed_file(args.seeds_file);
    if (!list) return list.error();
    for (const auto& w : list->warnings) std::cerr << "webcrawl: warning: " << w << "\n";
    o.seeds.insert(o.seeds.end(), list->urls.begin(), list->urls.end());
  }
  return o;
}

int run(const CrawlArgs& args) {
  auto o = crawl_options_from(args);
  if (!o) return fail(o.error());
  auto summary = run_crawl(*o, std::cerr);
  if (!summary) return fail(summary.error());
  int status = summary->signal == SIGINT ? 130 : kExitOk;
  if (summary->nothing_fetched && summary->signal == 0) {
    std::cerr << "webcrawl: no seed could be fetched: " << summary->why_nothing << "\n";
    status = kExitNothingFetched;
  }
  if (summary->lookups_left) {
    // Everything is committed; only name lookups that cannot be interrupted
    // remain, and the normal exit would wait for them.
    std::cout.flush();
    std::cerr.flush();
    _exit(status);
  }
  return status;
}

}  // namespace

void add_crawl_command(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<CrawlArgs>();
  auto* crawl = app.add_subcommand("crawl", "crawl from seed URLs into a database (resumes an existing one)");
  crawl->add_option("urls", args->seed_urls, "seed URLs");
  crawl->add_option("--seeds", args->seeds_file, "seed list: one URL per line; blank lines and # comments ignored")
      ->type_name("FILE");
  crawl->add_option("--config", args->config_file, "TOML file with crawl options and per-host overrides; flags win")
      ->type_name("FILE");
  const CrawlOptions defaults;
  for (std::size_t i = 0; i < crawl_options().size(); ++i) {
    const OptionSpec& spec = crawl_options()[i];
    if (spec.kind == OptionSpec::Kind::kFlag) {
      crawl->add_flag_function(spec.flag_name(), [args, i](std::int64_t) { args->flags[i] = true; }, spec.help);
      continue;
    }
    std::string help = spec.help;
    std::string shown = default_text(spec.get(defaults));
    if (!shown.empty() && spec.kind != OptionSpec::Kind::kList) help += " (default " + shown + ")";
    crawl->add_option(spec.flag_name(), args->texts[i], help)
        ->type_name(spec.value_name)
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }
  commands.push_back({crawl, [args] { return run(*args); }});
}

}  // namespace webcrawl::crawler

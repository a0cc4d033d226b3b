// bench_gen_site: writes the deterministic site that `make bench` crawls.
//
//   bench_gen_site --out DIR --port PORT [--pages N] [--hosts H] [--seed S]
//
// Host i (0-based) is served at http://127.0.X.Y:PORT/ with X = 1 + i / 254
// and Y = 1 + i % 254 (127.0.1.1 .. 127.0.1.254, then 127.0.2.1 ...; Linux
// routes all of 127/8 to lo) from DIR/hIII/, and holds pages pNNNNN.html, N/H
// of them (the first N%H hosts one more). Page sizes are lognormal, median 30
// KiB, sigma 0.8, capped at 300 KiB (a page's fixed parts set a floor of a few
// KiB); each page has 50 to 70 links, about 70 % to pages of its own host
// (relative hrefs) and 30 % to other hosts (absolute URLs). Markup is what
// real pages carry: a <style> block, inline scripts (one JSON-LD), a nav,
// headings, paragraphs of pseudo-words with inline links, lists, a footer.
//
// Every page is reachable from its host's p00000.html: page j links to
// j+1, 2j+1 and 2j+2 in its nav. Besides the pages it writes DIR/seeds.txt
// (the index page of every host), DIR/urls.txt ("URL<TAB>path" per page, what
// bench_ceiling loads) and, last, DIR/manifest ("key value" lines), so a site
// with a manifest is complete.
//
// Output is byte-identical for the same arguments on any platform: every
// random number comes from std::mt19937_64 (whose sequence the standard fixes)
// through this file's own uniform and Box-Muller normal, never through the
// library's distributions, whose algorithms differ between implementations.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view kUsage =
    "usage: bench_gen_site --out DIR --port PORT [--pages N] [--hosts H] [--seed S]\n";
constexpr int kMaxHosts = 254 * 16;             // 127.0.1.1 .. 127.0.16.254
constexpr int64_t kMaxPagesPerHost = 100000;    // five digits in pNNNNN
constexpr double kMedianBytes = 30 * 1024;
constexpr double kSigma = 0.8;
constexpr double kMaxBytes = 300 * 1024;
constexpr int kMinLinks = 50;
constexpr int kMaxLinks = 70;
constexpr double kSameHostShare = 0.7;

struct Args {
  std::string out;
  int port = 0;
  int64_t pages = 20000;
  int hosts = 200;
  uint64_t seed = 20240601;
};

// Deterministic random numbers; see the file comment for why not <random>'s
// distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t next() { return engine_(); }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n); n > 0. The modulo bias is far below what matters here.
  uint64_t below(uint64_t n) { return next() % n; }
  int64_t between(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(hi - lo + 1)); }
  bool chance(double p) { return uniform() < p; }
  // Standard normal by Box-Muller (cosine branch only).
  double normal() {
    double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::mt19937_64 engine_;
};

// splitmix64: decorrelates the per-page seeds derived from (seed, host, page).
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::string host_dir(int host) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "h%03d", host);
  return buf;
}

std::string page_file(int64_t page) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "p%05lld.html", static_cast<long long>(page));
  return buf;
}

std::string origin(int host, int port) {
  return "http://127.0." + std::to_string(1 + host / 254) + "." + std::to_string(1 + host % 254) + ":" +
         std::to_string(port);
}

class Site {
 public:
  explicit Site(const Args& args) : args_(args) {}

  int64_t pages_of(int host) const {
    int64_t base = args_.pages / args_.hosts;
    return base + (host < args_.pages % args_.hosts ? 1 : 0);
  }
  int hosts() const { return args_.hosts; }
  int port() const { return args_.port; }
  uint64_t seed() const { return args_.seed; }

 private:
  const Args& args_;
};

// Pseudo-words from a fixed syllable table: text that tokenizes and stems like
// prose without being any language.
constexpr const char* kSyllables[] = {
    "ka", "lo", "mi", "ren", "tor", "vel", "sa", "qui", "dor", "an", "es", "ul",
    "po", "ri", "tha", "mes", "ber", "con", "di", "fa", "gul", "hin", "jo", "lar",
    "mon", "nev", "or", "pel", "ras", "sen", "tiv", "ur", "wen", "xa", "yel", "zo",
    "ate", "ing", "ion", "ed"};
constexpr const char* kUnicodeWords[] = {"café", "naïve", "über", "señor", "façade",
                                         "zürich", "crème", "résumé"};
constexpr const char* kEntities[] = {"&amp;", "&mdash;", "&nbsp;", "&quot;", "&#8217;"};

class PageWriter {
 public:
  PageWriter(const Site& site, int host, int64_t page)
      : site_(site), host_(host), page_(page),
        rng_(mix(site.seed() ^ mix((static_cast<uint64_t>(host) << 32) ^ static_cast<uint64_t>(page)))) {}

  std::string build() {
    double size = std::exp(std::log(kMedianBytes) + kSigma * rng_.normal());
    target_ = static_cast<std::size_t>(std::min(size, kMaxBytes));
    int links = static_cast<int>(rng_.between(kMinLinks, kMaxLinks));
    out_.reserve(target_ + 4096);
    head();
    out_ += "<body class=\"page-" + word() + "\">\n";
    int used = nav();
    used += 3;  // the footer's
    std::size_t tail_bytes = 800 + script_bytes() / 2;
    article(std::max(0, links - used), tail_bytes);
    footer();
    script("app", script_bytes() / 2);
    out_ += "</body>\n</html>\n";
    return std::move(out_);
  }

 private:
  std::size_t script_bytes() const { return std::max<std::size_t>(1024, target_ / 10); }

  std::string word() {
    std::string w;
    int n = 1 + static_cast<int>(rng_.below(3)) + (rng_.chance(0.2) ? 1 : 0);
    for (int i = 0; i < n; i++) w += kSyllables[rng_.below(std::size(kSyllables))];
    return w;
  }

  std::string words(int n, bool capitalize) {
    std::string s;
    for (int i = 0; i < n; i++) {
      if (i) s += ' ';
      std::string w = word();
      if (capitalize) w[0] = static_cast<char>(w[0] - 'a' + 'A');
      s += w;
    }
    return s;
  }

  // One sentence of 6 to 18 words, now and then with a non-ASCII word or an
  // entity, as real text has.
  void sentence() {
    int n = static_cast<int>(rng_.between(6, 18));
    for (int i = 0; i < n; i++) {
      if (i) out_ += ' ';
      if (rng_.chance(0.02)) {
        out_ += kUnicodeWords[rng_.below(std::size(kUnicodeWords))];
      } else if (rng_.chance(0.015)) {
        out_ += kEntities[rng_.below(std::size(kEntities))];
      } else {
        std::string w = word();
        if (i == 0) w[0] = static_cast<char>(w[0] - 'a' + 'A');
        if (rng_.chance(0.03)) w = "<em>" + w + "</em>";
        out_ += w;
      }
    }
    out_ += rng_.chance(0.1) ? "? " : ". ";
  }

  // A link target: popular pages (low numbers) are linked more often.
  int64_t popular_page(int64_t count) {
    double u = rng_.uniform();
    return std::min(count - 1, static_cast<int64_t>(static_cast<double>(count) * u * u));
  }

  std::string same_host_href(int64_t target) {
    std::string file = page_file(target);
    double form = rng_.uniform();
    if (form < 0.6) return file;
    if (form < 0.85) return "/" + file;
    if (form < 0.95) return "./" + file + "#s" + std::to_string(rng_.below(9));
    return origin(host_, site_.port()) + "/" + file;
  }

  std::string random_href() {
    if (site_.hosts() == 1 || rng_.chance(kSameHostShare)) {
      return same_host_href(popular_page(site_.pages_of(host_)));
    }
    int other = static_cast<int>(rng_.below(site_.hosts() - 1));
    if (other >= host_) other++;
    return origin(other, site_.port()) + "/" + page_file(popular_page(site_.pages_of(other)));
  }

  void anchor(const std::string& href, const std::string& text) {
    out_ += "<a href=\"" + href + "\"";
    if (rng_.chance(0.2)) out_ += " class=\"" + word() + "\"";
    out_ += ">" + text + "</a>";
  }

  void style() {
    std::size_t want = std::clamp<std::size_t>(target_ / 16, 800, 6000);
    std::size_t start = out_.size();
    out_ += "<style>\n";
    while (out_.size() - start < want) {
      char color[8];
      std::snprintf(color, sizeof color, "%06llx",
                    static_cast<unsigned long long>(rng_.below(0x1000000)));
      out_ += ".c-" + word() + " > ." + word() + " { margin: 0 " + std::to_string(rng_.below(40)) +
              "px; color: #" + color + "; font: " + std::to_string(12 + rng_.below(12)) +
              "px/1.4 sans-serif; }\n";
    }
    out_ += "</style>\n";
  }

  // A script whose strings hold markup, which the parser must treat as text.
  void script(const std::string& name, std::size_t want) {
    std::size_t start = out_.size();
    out_ += "<script>\n(function () {\n  var " + name + " = window." + name + " || {};\n";
    while (out_.size() - start < want) {
      std::string f = word();
      out_ += "  " + name + "." + f + " = function (el, n) {\n    if (n < " +
              std::to_string(rng_.below(100)) + " && el) { el.innerHTML = '<div class=\"" + word() +
              "\"><a href=\"#" + word() + "\">' + n + '</a></div>'; }\n    return n * " +
              std::to_string(rng_.below(1000)) + " + \"" + words(2, false) + "\".length;\n  };\n";
    }
    out_ += "  window." + name + " = " + name + ";\n})();\n</script>\n";
  }

  void head() {
    title_ = words(static_cast<int>(rng_.between(3, 6)), true);
    out_ += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    out_ += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    out_ += "<title>" + title_ + " &mdash; " + host_dir(host_) + " " + page_file(page_) + "</title>\n";
    out_ += "<link rel=\"stylesheet\" href=\"/static/site.css\">\n";
    style();
    out_ += "<script type=\"application/ld+json\">{\"@context\": \"https://schema.org\", "
            "\"@type\": \"Article\", \"headline\": \"" + title_ + "\", \"wordCount\": " +
            std::to_string(target_ / 7) + "}</script>\n";
    script("cfg", script_bytes() / 2);
    out_ += "</head>\n";
  }

  // The nav holds the links that make every page reachable from p00000:
  // home, next, and the two children in a binary tree. Returns links written.
  int nav() {
    int64_t count = site_.pages_of(host_);
    std::vector<std::pair<int64_t, std::string>> items = {{0, "Home"}};
    if (page_ > 0) items.push_back({(page_ - 1) / 2, "Up"});
    if (page_ + 1 < count) items.push_back({page_ + 1, "Next"});
    if (2 * page_ + 1 < count) items.push_back({2 * page_ + 1, words(1, true)});
    if (2 * page_ + 2 < count) items.push_back({2 * page_ + 2, words(1, true)});
    out_ += "<header>\n<div class=\"brand\">" + words(2, true) + "</div>\n<nav>\n<ul>\n";
    for (const auto& [target, text] : items) {
      out_ += "<li>";
      anchor(page_file(target), text);
      out_ += "</li>\n";
    }
    out_ += "</ul>\n</nav>\n</header>\n";
    return static_cast<int>(items.size());
  }

  // The body text: sections of paragraphs with `links` inline links spread
  // over them, filled until the page is `tail_bytes` short of its target.
  void article(int links, std::size_t tail_bytes) {
    std::size_t fill = target_ > out_.size() + tail_bytes ? target_ - out_.size() - tail_bytes : 0;
    std::size_t paragraphs = std::max<std::size_t>(1, fill / 600);
    std::vector<int> links_in(paragraphs, 0);
    for (int i = 0; i < links; i++) links_in[rng_.below(paragraphs)]++;
    out_ += "<main>\n<article>\n<h1>" + title_ + "</h1>\n";
    std::size_t start = out_.size();
    for (std::size_t p = 0; p < paragraphs; p++) {
      if (p % 4 == 0) {
        out_ += "<h2 id=\"s" + std::to_string(p / 4) + "\">" +
                words(static_cast<int>(rng_.between(2, 5)), true) + "</h2>\n";
      }
      std::size_t want = fill * (p + 1) / paragraphs;
      if (links_in[p] >= 3 && rng_.chance(0.3)) {
        list(links_in[p]);
      } else {
        paragraph(links_in[p], start + want);
      }
    }
    out_ += "</article>\n";
    out_ += "<aside><p>" + words(8, false) + "</p></aside>\n</main>\n";
  }

  void paragraph(int links, std::size_t until) {
    out_ += "<p>";
    do {
      sentence();
      if (links > 0 && rng_.chance(0.5)) {
        anchor(random_href(), words(static_cast<int>(rng_.between(1, 4)), false));
        out_ += ' ';
        links--;
      }
    } while (out_.size() < until || links > 0);
    out_ += "</p>\n";
  }

  void list(int links) {
    out_ += "<ul class=\"related\">\n";
    for (int i = 0; i < links; i++) {
      out_ += "<li>";
      anchor(random_href(), words(static_cast<int>(rng_.between(2, 6)), true));
      out_ += " &ndash; " + words(static_cast<int>(rng_.between(3, 10)), false) + "</li>\n";
    }
    out_ += "</ul>\n";
  }

  void footer() {
    out_ += "<footer>\n<p>&copy; " + words(2, true) + ". ";
    anchor("/" + page_file(0), "Index");
    out_ += " | ";
    anchor(random_href(), words(2, true));
    out_ += " | ";
    anchor(random_href(), words(2, true));
    out_ += "</p>\n</footer>\n";
  }

  const Site& site_;
  int host_;
  int64_t page_;
  Rng rng_;
  std::size_t target_ = 0;
  std::string title_;
  std::string out_;
};

bool write_file(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  f.close();
  if (!f) std::cerr << "bench_gen_site: cannot write " << path << ": " << std::strerror(errno) << "\n";
  return static_cast<bool>(f);
}

bool make_dir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return true;
  std::cerr << "bench_gen_site: cannot create " << path << ": " << std::strerror(errno) << "\n";
  return false;
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<Args> parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i++) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) return std::nullopt;
    std::string_view value = argv[++i];
    if (flag == "--out") {
      a.out = value;
    } else if (flag == "--port") {
      auto v = number<int>(value);
      if (!v || *v < 1 || *v > 65535) return std::nullopt;
      a.port = *v;
    } else if (flag == "--pages") {
      auto v = number<int64_t>(value);
      if (!v || *v < 1) return std::nullopt;
      a.pages = *v;
    } else if (flag == "--hosts") {
      auto v = number<int>(value);
      if (!v || *v < 1 || *v > kMaxHosts) return std::nullopt;
      a.hosts = *v;
    } else if (flag == "--seed") {
      auto v = number<uint64_t>(value);
      if (!v) return std::nullopt;
      a.seed = *v;
    } else {
      return std::nullopt;
    }
  }
  if (a.out.empty() || a.port == 0) return std::nullopt;
  a.hosts = static_cast<int>(std::min<int64_t>(a.hosts, a.pages));
  if ((a.pages + a.hosts - 1) / a.hosts > kMaxPagesPerHost) return std::nullopt;
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = parse_args(argc, argv);
  if (!args) {
    std::cerr << kUsage;
    return 2;
  }
  Site site(*args);
  if (!make_dir(args->out)) return 1;
  std::string seeds, urls;
  std::vector<std::size_t> sizes;
  sizes.reserve(static_cast<std::size_t>(args->pages));
  uint64_t bytes = 0;
  for (int h = 0; h < site.hosts(); h++) {
    std::string dir = host_dir(h);
    if (!make_dir(args->out + "/" + dir)) return 1;
    std::string base = origin(h, site.port()) + "/";
    seeds += base + page_file(0) + "\n";
    for (int64_t p = 0; p < site.pages_of(h); p++) {
      std::string path = dir + "/" + page_file(p);
      std::string html = PageWriter(site, h, p).build();
      if (!write_file(args->out + "/" + path, html)) return 1;
      urls += base + page_file(p) + "\t" + path + "\n";
      sizes.push_back(html.size());
      bytes += html.size();
    }
  }
  std::sort(sizes.begin(), sizes.end());
  std::string manifest = "pages " + std::to_string(args->pages) + "\nhosts " +
                         std::to_string(site.hosts()) + "\nport " + std::to_string(site.port()) +
                         "\nseed " + std::to_string(site.seed()) + "\nbytes " +
                         std::to_string(bytes) + "\nmedian_bytes " +
                         std::to_string(sizes[sizes.size() / 2]) + "\nmax_bytes " +
                         std::to_string(sizes.back()) + "\n";
  if (!write_file(args->out + "/seeds.txt", seeds) || !write_file(args->out + "/urls.txt", urls) ||
      !write_file(args->out + "/manifest", manifest)) {
    return 1;
  }
  std::cout << "site: " << args->pages << " pages on " << site.hosts() << " hosts, "
            << bytes / (1024 * 1024) << " MiB, median " << sizes[sizes.size() / 2] / 1024
            << " KiB, max " << sizes.back() / 1024 << " KiB\n";
  return 0;
}

// X-Robots-Tag and meta robots directives; the contract is in robots_directives.h.
#include "parser/robots_directives.h"

#include "parser/ascii.h"
#include "parser/robots.h"

namespace webcrawl::parser {
namespace {

// Directives that take a value after a colon (Google's and Bing's
// documentation); any other "name:" starts a user-agent part.
constexpr std::string_view kValuedDirectives[] = {"unavailable_after", "max-snippet",
                                                  "max-image-preview", "max-video-preview"};

bool is_valued_directive(std::string_view name) {
  for (std::string_view known : kValuedDirectives) {
    if (iequals(name, known)) return true;
  }
  return false;
}

// A user-agent name as crawlers announce it ("googlebot", "Googlebot-News",
// "bingbot/2.0"): a letter first, then no white space, comma or colon.
bool looks_like_user_agent(std::string_view name) {
  if (name.empty() || !is_ascii_alpha(name.front())) return false;
  for (char c : name) {
    if (is_html_space(c) || c == ',' || c == ':') return false;
  }
  return true;
}

// The name of a valued directive when `item` starts with one ("max-snippet: 20").
bool is_valued_item(std::string_view item) {
  std::size_t colon = item.find(':');
  return colon != std::string_view::npos && is_valued_directive(trim(item.substr(0, colon)));
}

// What follows a valued directive's name and the first word of its value:
// "max-image-preview: none" is about images, not the robots "none".
std::string_view skip_valued_directive(std::string_view item) {
  if (!is_valued_item(item)) return item;
  std::string_view value = trim(item.substr(item.find(':') + 1));
  std::size_t word = 0;
  while (word < value.size() && !is_html_space(value[word])) ++word;
  return value.substr(word);
}

// One comma-separated item with no user-agent prefix; white space also
// separates tokens, since "noindex nofollow" is a common way to write it.
void apply_item(std::string_view item, RobotsDirectives& out) {
  item = skip_valued_directive(item);
  for (std::size_t i = 0; i < item.size();) {
    std::size_t end = i;
    while (end < item.size() && !is_html_space(item[end])) ++end;
    std::string_view token = item.substr(i, end - i);
    if (iequals(token, "none")) {
      out.noindex = out.nofollow = true;
    } else if (iequals(token, "noindex")) {
      out.noindex = true;
    } else if (iequals(token, "nofollow")) {
      out.nofollow = true;
    }
    i = end + 1;
  }
}

// Calls `each` with every comma-separated item of `list`, trimmed.
template <class F>
void for_each_item(std::string_view list, F&& each) {
  for (std::size_t i = 0; i <= list.size();) {
    std::size_t comma = list.find(',', i);
    if (comma == std::string_view::npos) comma = list.size();
    each(trim(list.substr(i, comma - i)));
    i = comma + 1;
  }
}

}  // namespace

RobotsDirectives parse_robots_directives(std::string_view list) {
  RobotsDirectives out;
  for_each_item(list, [&out](std::string_view item) { apply_item(item, out); });
  return out;
}

RobotsDirectives parse_x_robots_tag(std::string_view value, std::string_view product_token_of_ours) {
  RobotsDirectives out;
  bool applies = true;  // directives before any user-agent part are for everyone
  for_each_item(value, [&](std::string_view item) {
    std::size_t colon = item.find(':');
    if (colon != std::string_view::npos && !is_valued_item(item)) {
      std::string_view name = trim(item.substr(0, colon));
      if (looks_like_user_agent(name)) {
        applies = iequals(product_token(name), product_token_of_ours);
        item = trim(item.substr(colon + 1));
      }
    }
    if (applies) apply_item(item, out);
  });
  return out;
}

RobotsDirectives parse_x_robots_tag(const std::vector<std::string>& values,
                                    std::string_view product_token_of_ours) {
  RobotsDirectives out;
  for (const std::string& value : values) out |= parse_x_robots_tag(value, product_token_of_ours);
  return out;
}

}  // namespace webcrawl::parser

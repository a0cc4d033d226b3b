#include "parser/link_header.h"

#include <catch2/catch.hpp>
#include <string>

using webcrawl::parser::canonical_link;
using webcrawl::parser::find_link;

namespace {

// The canonical target, or "(none)".
std::string canonical(std::string_view value) { return canonical_link(value).value_or("(none)"); }

}  // namespace

TEST_CASE("a link with rel=canonical gives its target", "[link_header]") {
  CHECK(canonical(R"(<https://a.example/x>; rel="canonical")") == "https://a.example/x");
  CHECK(canonical("<https://a.example/x>; rel=canonical") == "https://a.example/x");
  CHECK(canonical("<https://a.example/x>;rel=CANONICAL") == "https://a.example/x");
}

TEST_CASE("the target comes back as written, unresolved", "[link_header]") {
  CHECK(canonical("</relative/p?q=1>; rel=canonical") == "/relative/p?q=1");
  CHECK(canonical("<>; rel=canonical") == "");
}

TEST_CASE("of several links the first canonical one counts", "[link_header]") {
  CHECK(canonical(R"(<https://a/de>; rel="alternate"; hreflang="de", <https://a/y>; rel="canonical", )"
                  R"(<https://a/z>; rel=canonical)") == "https://a/y");
}

TEST_CASE("rel may list several relation types", "[link_header]") {
  CHECK(canonical(R"(<https://a/x>; rel="alternate canonical")") == "https://a/x");
  CHECK(canonical(R"(<https://a/x>; rel="  canonical	")") == "https://a/x");
  CHECK(canonical(R"(<https://a/x>; rel="canonical-ish")") == "(none)");
  CHECK(find_link(R"(<https://a/2>; rel="next prev")", "next").value_or("") == "https://a/2");
}

TEST_CASE("parameters come in any order, with quoted commas and semicolons", "[link_header]") {
  CHECK(canonical(R"(<https://a/x>; type="text/html"; title="a, b; c"; rel=canonical)") == "https://a/x");
  CHECK(canonical(R"(<https://a/x>; title="say \"hi\", rel=canonical"; rel=alternate, <https://a/y>; rel=canonical)") ==
        "https://a/y");
}

TEST_CASE("commas and semicolons inside <...> belong to the URI", "[link_header]") {
  CHECK(canonical("<https://a/x,y;z>; rel=canonical") == "https://a/x,y;z");
  CHECK(canonical("<https://a/p,1>; rel=alternate, <https://a/p,2>; rel=canonical") == "https://a/p,2");
}

TEST_CASE("white space around ; and = is allowed", "[link_header]") {
  CHECK(canonical(R"(  <https://a/x> ;  rel = "canonical" )") == "https://a/x");
}

TEST_CASE("only a link's first rel parameter counts", "[link_header]") {
  CHECK(canonical("<https://a/x>; rel=alternate; rel=canonical") == "(none)");
  CHECK(canonical("<https://a/x>; rel=canonical; rel=alternate") == "https://a/x");
}

TEST_CASE("a link with an anchor describes another resource", "[link_header]") {
  CHECK(canonical(R"(<https://a/x>; rel=canonical; anchor="#part", <https://a/y>; rel=canonical)") ==
        "https://a/y");
}

TEST_CASE("without a canonical link there is none", "[link_header]") {
  CHECK(canonical("") == "(none)");
  CHECK(canonical("<https://a/x>; rel=alternate") == "(none)");
  CHECK(canonical("<https://a/x>; canonical") == "(none)");
  CHECK(canonical("<https://a/x>") == "(none)");
  CHECK(canonical("<https://a/x>; rel") == "(none)");
}

TEST_CASE("malformed link-values are skipped up to the next comma", "[link_header]") {
  CHECK(canonical("garbage, <https://a/y>; rel=canonical") == "https://a/y");
  CHECK(canonical(R"(junk "with, a comma", <https://a/y>; rel=canonical)") == "https://a/y");
  CHECK(canonical("<https://a/x> rel=canonical, <https://a/y>; rel=canonical") == "https://a/y");
  CHECK(canonical("<https://a/x; rel=canonical") == "(none)");
  CHECK(canonical(R"(<https://a/x>; title="unterminated, rel=canonical)") == "(none)");
}

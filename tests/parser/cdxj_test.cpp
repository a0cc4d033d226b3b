#include "parser/cdxj.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

using webcrawl::parser::cdxj_line;
using webcrawl::parser::CdxjRecord;
using webcrawl::parser::surt;

namespace {

// The JSON part of a line: what follows the key and the timestamp.
nlohmann::json json_of(const std::string& line) {
  std::size_t brace = line.find('{');
  REQUIRE(brace != std::string::npos);
  return nlohmann::json::parse(line.substr(brace));
}

CdxjRecord example_response() {
  return {"http://example.com?example=1", "2014-01-03T03:03:21Z", "text/html", 200,
          "sha1:B2LTWWPUOYAH7UIPQ7ZUPQ4VMBSVC36A", 1043, 333, "example.warc.gz", false};
}

}  // namespace

// Expected keys are what the surt package (0.3.1, which pywb calls) returns
// for the same input, so pywb's lookups find our lines.
TEST_CASE("SURT keys match pywb's canonicalization", "[warc]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://www.archive.org/", "org,archive)/"},
      {"http://archive.org/goo/", "org,archive)/goo"},
      {"http://archive.org/goo/?", "org,archive)/goo"},
      {"http://archive.org/goo/?b&a", "org,archive)/goo?a&b"},
      {"http://archive.org/goo/?a=2&b&a=1", "org,archive)/goo?a=1&a=2&b"},
      {"https://www2.Example.COM:443/A/B/../C/?Z=1#frag", "com,example)/a/c?z=1"},
      {"http://example.com:8080/x", "com,example:8080)/x"},
      {"https://example.com:80/", "com,example:80)/"},
      {"http://192.168.1.254/info/", "254,1,168,192)/info"},
      {"http://3279880203/blah", "11,0,127,195)/blah"},
      {"http://10.0.258/", "2,1,0,10)/"},
      {"http://017.0.0.1/", "1,0,0,15)/"},
      {"http://archive.org/index.php?PHPSESSID=0123456789abcdefghijklemopqrstuv&action=profile;u=4221", "org,archive)/index.php?action=profile;u=4221"},
      {"http://example.com/app?item=Wroc%C5%82aw", "com,example)/app?item=wroc%c5%82aw"},
      {"http://example.com/script?type=a+b+%26+c&grape=wine", "com,example)/script?+c&grape=wine&type=a+b+"},
      {"http://host/%25%32%35", "host)/%25"},
      {"http://a.test/a b", "test,a)/a%20b"},
      {"http://a.test//x//y/", "test,a)/x/y"},
      {"http://www.a.test", "test,a)/"},
      {"http://user:pw@a.test/", "test,a)/"},
      {"http://[::1]:8080/", "::1:8080)/"},
      {"http:////www.vikings.com", "com,vikings)/"},
      {"http://https://order.1and1.com", "com,1and1,order)/"},
      {"www2foo.com/x", "com,www2foo)/x"},
      {"mailto:Foo@example.com", "mailto:foo@example.com"},
      {"http://a.test/(S(4hqa0555fwsecu455xqckv45))/mileg.aspx", "test,a)/mileg.aspx"},
      {"http://a.test/x?jsessionid=0123456789abcdef0123456789abcdef&y=1", "test,a)/x?y=1"},
      {"http://a.test/x?y=1&cfid=12&cftoken=34&z=2", "test,a)/x?y=1&z=2"},
      {"http://a.test/?", "test,a)/"},
      {"http://a.test/x?=&a", "test,a)/x?=&a"},
      {"http://a.test/%7Euser/%41%2fb", "test,a)/~user/a/b"},
      {"http://www.google.com.../", "com,google)/"},
      {"http://a.test/a/./b/../../../c", "test,a)/../c"},
      {"http://www.com/", "com)/"},
      {"http://127.0.1.1:8741/p00001.html", "1,1,0,127:8741)/p00001.html"},
      {"http://a.test/x?a=%20b#c", "test,a)/x?a=%20b"},
      {"http://a.test/%23frag?q=%23", "test,a)/%23frag?q=%23"},
      {"http://a.test:/x", "test,a)/x"},
      {"http://A.TEST/Path?Q=UPPER&a=lower", "test,a)/path?a=lower&q=upper"},
      {"http://a.test/(4hqa0555fwsecu455xqckv45)/mileg.aspx", "test,a)/mileg.aspx"},
      {"http://a.test/x/(a(4hqa0555fwsecu455xqckv45)S(4hqa0555fwsecu455xqckv45)f(4hqa0555fwsecu455xqckv45))/mileg.aspx?page=sessionschedules", "test,a)/x/mileg.aspx?page=sessionschedules"},
      {"http://a.test/photos/36050182@N05/", "test,a)/photos/36050182@n05"},
      {"http://a.test/(S(4hqa0555fwsecu455xqckv45))/%3F.aspx", "test,a)/(s(4hqa0555fwsecu455xqckv45))/?.aspx"},
      {"http://a.test/(S(4hqa0555fwsecu455xqckv45))/a/(S(4hqa0555fwsecu455xqckv45))/b.ASPX", "test,a)/(s(4hqa0555fwsecu455xqckv45))/a/b.aspx"},
      {"http://a.test/x?ASPSESSIONIDAQBSDSRT=EOHBLBDDPFCLHKPGGKLILNAM&x=y", "test,a)/x?x=y"},
      {"http://a.test/x?sid=9682993c8daa2c5497996114facdc805&x=y", "test,a)/x?x=y"},
      {"http://a.test/x?sid=9682993c8daa2c5497996114facdc8050&x=y", "test,a)/x?sid=9682993c8daa2c5497996114facdc8050&x=y"},
      {"http://a.test/x?one=two&jsessionid=0123456789abcdefghijklemopqrstuv", "test,a)/x?&one=two"},
      {"http://a.test/x?a=1&phpsessid=0123456789abcdefghijklemopqrstuv&b=2&jsessionid=0123456789abcdefghijklemopqrstuv", "test,a)/x?&a=1&b=2"},
      {"http://a.test/x?cfid=1&cftoken=2&cfid=3&cftoken=4", "test,a)/x?&cfid=1&cftoken=2"},
      {"http://a.test/x?cfid=1&cftoken=&z=1", "test,a)/x?cfid=1&cftoken=&z=1"},
      {"http://1.2.3.4.5/", "5,4,3,2,1)/"},
      {"http://08.1.1.1/", "1,1,1,08)/"},
      {"http://1.2.3.08/", "08,3,2,1)/"},
      {"http://0x7f.1/", "1,0x7f)/"},
      {"http://0/", "0,0,0,0)/"},
  };
  for (const auto& [url, key] : cases) {
    INFO(url);
    CHECK(surt(url) == key);
  }
}

TEST_CASE("SURT of nothing is a dash, and filedesc URLs stay as they are", "[warc]") {
  CHECK(surt("") == "-");
  CHECK(surt("filedesc:x.arc.gz") == "filedesc:x.arc.gz");
}

TEST_CASE("a response line has pywb's fields in pywb's order and format", "[warc]") {
  CHECK(cdxj_line(example_response()) ==
        "com,example)/?example=1 20140103030321 {\"url\": \"http://example.com?example=1\", "
        "\"mime\": \"text/html\", \"status\": \"200\", \"digest\": "
        "\"B2LTWWPUOYAH7UIPQ7ZUPQ4VMBSVC36A\", \"length\": \"1043\", \"offset\": \"333\", "
        "\"filename\": \"example.warc.gz\"}\n");
}

TEST_CASE("a revisit line says warc/revisit and leaves the status out", "[warc]") {
  CdxjRecord r = example_response();
  r.revisit = true;
  r.warc_date = "2014-01-03T03:03:41.123456Z";
  r.length = 553;
  r.offset = 1864;
  CHECK(cdxj_line(r) ==
        "com,example)/?example=1 20140103030341 {\"url\": \"http://example.com?example=1\", "
        "\"mime\": \"warc/revisit\", \"digest\": \"B2LTWWPUOYAH7UIPQ7ZUPQ4VMBSVC36A\", "
        "\"length\": \"553\", \"offset\": \"1864\", \"filename\": \"example.warc.gz\"}\n");
}

TEST_CASE("mime is the media type without parameters, or unk", "[warc]") {
  CdxjRecord r = example_response();
  r.content_type = "text/html; charset=utf-8";
  CHECK(json_of(cdxj_line(r))["mime"] == "text/html");
  r.content_type = "";
  CHECK(json_of(cdxj_line(r))["mime"] == "unk");
}

TEST_CASE("unknown status and digest are left out of the line", "[warc]") {
  CdxjRecord r = example_response();
  r.status = 0;
  r.payload_digest.clear();
  nlohmann::json j = json_of(cdxj_line(r));
  CHECK_FALSE(j.contains("status"));
  CHECK_FALSE(j.contains("digest"));
  CHECK(j["length"] == "1043");
}

TEST_CASE("quotes and control bytes in values are JSON-escaped", "[warc]") {
  CdxjRecord r = example_response();
  r.url = "http://a.test/\"q\"\x01";
  r.filename = "odd \"name\".warc.gz";
  std::string line = cdxj_line(r);
  CHECK(line.find('\n') == line.size() - 1);
  nlohmann::json j = json_of(line);
  CHECK(j["url"] == r.url);
  CHECK(j["filename"] == r.filename);
}

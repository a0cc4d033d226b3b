// Small verbs for the storage tests: URLs, results, a Store in a temporary
// directory, and rows read back through a Reader.
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "storage/reader.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"

namespace webcrawl::storage::test {

using testing::TempDir;
using Rows = std::vector<std::vector<std::string>>;


inline std::string origin_of(const std::string& url) {
  auto slash = url.find('/', url.find("//") + 2);
  return url.substr(0, slash);
}

inline DiscoveredUrl to(const std::string& url, int depth = 1, bool follow = true,
                 const std::string& skip_reason = "") {
  return DiscoveredUrl{url, origin_of(url), depth, 0, follow, skip_reason};
}

inline OutLink link(const std::string& url, const std::string& anchor = "", int depth = 1,
             bool follow = true) {
  return OutLink{to(url, depth, follow), anchor, false};
}

inline PageResult page(int64_t id, const std::string& url, const std::string& title = "",
                const std::string& text = "") {
  PageResult p;
  p.url_id = id;
  p.final_url = url;
  p.status = 200;
  p.content_type = "text/html";
  p.title = title;
  p.text = text;
  p.index = true;
  p.fetched_at = 1700000000.25;
  p.bytes = 100;
  return p;
}

inline PageResult redirect(int64_t id, const std::string& url, const std::string& location,
                    int redirects = 1) {
  PageResult p = page(id, url);
  p.status = 301;
  p.index = false;
  p.redirect = to(location, 0);
  p.redirect->redirects = redirects;
  return p;
}

inline std::unique_ptr<Store> open_store(const std::string& path) {
  auto store = Store::open(path);
  INFO((store ? "" : store.error().message));
  REQUIRE(store);
  return std::move(*store);
}

// Reads through a Reader of its own, as users do.
inline Rows rows(Store& store, const std::string& sql) {
  Rows out;
  auto reader = Reader::open(store.path());
  INFO((reader ? "" : reader.error().message));
  REQUIRE(reader);
  auto r = (*reader)->query(
      sql, [](const std::vector<std::string>&) {},
      [&](const std::vector<Value>& row) {
        out.emplace_back();
        for (const Value& v : row) out.back().push_back(v.to_string());
      });
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return out;
}

inline std::string scalar(Store& store, const std::string& sql) {
  Rows r = rows(store, sql);
  REQUIRE(r.size() == 1);
  return r.at(0).at(0);
}

inline std::vector<std::string> columns(Store& store, const std::string& sql) {
  std::vector<std::string> names;
  auto reader = Reader::open(store.path());
  REQUIRE(reader);
  auto r = (*reader)->query(
      sql, [&](const std::vector<std::string>& n) { names = n; }, [](const std::vector<Value>&) {});
  REQUIRE(r);
  return names;
}

inline std::string state_of(Store& store, const std::string& url) {
  return scalar(store, "SELECT state FROM urls WHERE url = '" + url + "'");
}

// Seeds one URL and returns its id.
inline int64_t seed(Store& store, const std::string& url) {
  auto queued = store.add_seeds({to(url, 0)});
  REQUIRE(queued);
  REQUIRE(queued->size() == 1);
  return queued->at(0).id;
}

inline void commit(Store& store, const std::vector<PageResult>& results) {
  auto r = store.commit(results);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
}

inline std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs SQL on a raw connection, bypassing Store, to build foreign files.
inline void raw_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}


}  // namespace webcrawl::storage::test

// A directory that exists for the lifetime of one test and is removed with
// everything in it afterwards. Throws std::runtime_error if it cannot be
// created, so Catch reports a failed test.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace webcrawl::testing {

class TempDir {
 public:
  // Creates a fresh directory under $TMPDIR (or /tmp), mode 0700.
  TempDir() {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string templ = (base / "webcrawl-test-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) {
      throw std::runtime_error("cannot create a temporary directory under " + base.string());
    }
    path_ = templ;
  }

  // Best effort: a test that fails half-way must not fail again here.
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // path()/relative, which need not exist yet.
  std::filesystem::path file(std::string_view relative) const { return path_ / relative; }

  // Writes contents to path()/relative, creating parent directories, and
  // returns the full path. Throws std::runtime_error on failure.
  std::filesystem::path write(std::string_view relative, std::string_view contents) const {
    std::filesystem::path target = file(relative);
    std::error_code ec;
    std::filesystem::create_directories(target.parent_path(), ec);
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (ec || !out) throw std::runtime_error("cannot write " + target.string());
    return target;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace webcrawl::testing

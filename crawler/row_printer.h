// Rows of `webcrawl query` and `export` as text, CSV or JSON Lines. Text is
// for people: columns aligned, cells cut at a width (on a terminal; nothing
// is cut when the output is a file or a pipe). CSV (RFC 4180) and JSON Lines
// (keys in the columns' order) stream row by row, for any number of rows.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "storage/reader.h"

namespace webcrawl::crawler {

class RowPrinter {
 public:
  enum class Format { kText, kCsv, kJsonl };
  // `width`: text cells longer than this many characters are cut (0: never).
  RowPrinter(Format format, std::ostream& out, std::size_t width);
  void columns(const std::vector<std::string>& names);
  void row(const std::vector<storage::Value>& values);
  // Prints what text output holds back to align it, and the row count.
  void end();

 private:
  // Text output aligns blocks of this many rows, so memory stays bounded.
  static constexpr std::size_t kBlock = 10000;
  void flush_text();
  void print_line(const std::vector<std::string>& cells, const std::vector<std::size_t>& width);
  Format format_;
  std::ostream& out_;
  std::size_t width_;
  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> rows_;
  std::size_t count_ = 0;
};

}  // namespace webcrawl::crawler

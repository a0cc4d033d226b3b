#include "crawler/row_printer.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace webcrawl::crawler {
namespace {

using Json = nlohmann::ordered_json;

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Json json_value(const storage::Value& v) {
  using T = storage::Value::Type;
  switch (v.type) {
    case T::kNull: return nullptr;
    case T::kInteger: return v.integer;
    case T::kReal: return v.real;
    case T::kText: return Json(v.text);
    case T::kBlob: return v.to_string();
  }
  return nullptr;
}

// Counts UTF-8 code points, not bytes, so accented text lines up.
std::size_t display_width(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// One line per cell, cut at `width` characters (0: never) with an ellipsis.
std::string cell(std::string s, std::size_t width) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (width == 0 || display_width(s) <= width) return s;
  std::size_t i = 0, n = 0;
  while (i < s.size() && n + 1 < width) {
    i++;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) i++;
    n++;
  }
  return s.substr(0, i) + "\u2026";
}

}  // namespace

RowPrinter::RowPrinter(Format format, std::ostream& out, std::size_t width)
    : format_(format), out_(out), width_(width) {}

void RowPrinter::columns(const std::vector<std::string>& names) {
  names_ = names;
  if (format_ != Format::kCsv) return;
  for (std::size_t i = 0; i < names.size(); i++) out_ << (i ? "," : "") << csv_field(names[i]);
  out_ << "\n";
}

void RowPrinter::row(const std::vector<storage::Value>& values) {
  count_++;
  if (format_ == Format::kCsv) {
    for (std::size_t i = 0; i < values.size(); i++) out_ << (i ? "," : "") << csv_field(values[i].to_string());
    out_ << "\n";
    return;
  }
  if (format_ == Format::kJsonl) {
    Json obj = Json::object();
    for (std::size_t i = 0; i < values.size() && i < names_.size(); i++) obj[names_[i]] = json_value(values[i]);
    out_ << obj.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
    return;
  }
  std::vector<std::string> cells;
  cells.reserve(values.size());
  for (const auto& v : values) cells.push_back(cell(v.type == storage::Value::Type::kNull ? "NULL" : v.to_string(), width_));
  rows_.push_back(std::move(cells));
  if (rows_.size() >= kBlock) flush_text();
}

void RowPrinter::flush_text() {
  std::vector<std::size_t> width(names_.size(), 0);
  for (std::size_t i = 0; i < names_.size(); i++) width[i] = display_width(names_[i]);
  for (const auto& r : rows_) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); i++) width[i] = std::max(width[i], display_width(r[i]));
  }
  print_line(names_, width);
  std::vector<std::string> rule;
  for (std::size_t w : width) rule.push_back(std::string(w, '-'));
  print_line(rule, width);
  for (const auto& r : rows_) print_line(r, width);
  rows_.clear();
}

void RowPrinter::end() {
  if (format_ != Format::kText) return;
  if (!rows_.empty() || count_ == 0) flush_text();
  out_ << "(" << count_ << (count_ == 1 ? " row)\n" : " rows)\n");
}

void RowPrinter::print_line(const std::vector<std::string>& cells, const std::vector<std::size_t>& width) {
  for (std::size_t i = 0; i < cells.size(); i++) {
    out_ << (i ? "  " : "") << cells[i];
    if (i + 1 < cells.size()) out_ << std::string(width[i] - std::min(width[i], display_width(cells[i])), ' ');
  }
  out_ << "\n";
}

}  // namespace webcrawl::crawler

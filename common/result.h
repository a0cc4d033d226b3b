// Result<T>: a value or an Error, our small stand-in for C++23 std::expected.
// Fallible calls at module boundaries return it; only main() turns an Error
// into a stderr line and an exit status (STYLE.md section 5).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace webcrawl {

enum class Code {
  kInvalidArgument,  // bad flag, bad URL, bad input the user gave us
  kIo,               // file system
  kNetwork,          // connect, reset, a temporary DNS failure
  kDns,              // the name does not exist (a permanent DNS answer)
  kTimeout,          // a deadline passed
  kTls,              // handshake or certificate verification
  kHttp,             // malformed or unacceptable HTTP
  kParse,            // content we could not decode
  kStorage,          // SQLite
  kNotOurs,          // a file that is not a webcrawl database
  kTooLarge,         // a size limit was hit
  kCancelled,        // stopped on purpose
};

struct Error {
  Code code;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit on purpose

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_{Code::kInvalidArgument, {}};
  bool ok_ = true;
};

inline Error make_error(Code code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace webcrawl

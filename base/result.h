// Result<T>: a value or an Error, for failures that come from outside the
// program (network, store, files, peers). Programmer misuse aborts instead.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace sealrelay {

// A failure with a stable machine-readable code ("not_found", "bad_frame", …)
// and a sentence for humans that says what to do about it.
struct Error {
  std::string code;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return checked(), std::get<0>(v_); }
  const T& value() const& { return checked(), std::get<0>(v_); }
  T&& value() && { return checked(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    if (ok()) std::abort();
    return std::get<1>(v_);
  }

 private:
  void checked() const {
    if (!ok()) std::abort();
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    if (ok_) std::abort();
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error make_error(std::string code, std::string message) {
  return Error{std::move(code), std::move(message)};
}

}  // namespace sealrelay

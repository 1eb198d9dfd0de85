#pragma once
// Typed errors. Library code throws gqa::Error with a message that names the file, tensor or
// field at fault; only src/cli turns one into an exit code.
#include <stdexcept>
#include <string>

namespace gqa {

enum class ErrorKind {
  kInvalidArgument,  // a value the caller chose is out of range or inconsistent
  kParse,            // a file or string is malformed
  kIo,               // a file cannot be opened, read or written
  kUnsupported,      // well-formed input that gqa does not handle (e.g. an unknown architecture)
  kInterrupted,      // SIGINT or SIGTERM arrived during a long write (core/interrupt.h)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) {
  throw Error(kind, message);
}

}  // namespace gqa

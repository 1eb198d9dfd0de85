#pragma once
// The values a chat template computes with (jinja_render.cpp) and Python's meaning of them:
// truthiness, str() and repr(), json.dumps as transformers' tojson filter writes it, str.strip
// and str.split, what a for loop walks, x.name and x[key], and `in`. Also the bounds that keep
// a hostile template's work finite.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "serve/jinja_ast.h"

namespace gqa::serve::jinja {

inline constexpr int64_t kMaxSteps = 1'000'000;       // loop iterations, range() items, macro calls
inline constexpr size_t kMaxOutputBytes = 64 << 20;   // the rendered prompt, and any string
inline constexpr int kMaxDepth = 64;                  // nested macro calls
inline constexpr size_t kMaxListItems = 1 << 20;      // a list built by +
inline constexpr const char* kSpace = " \t\n\r\f\v";  // Python's white space

// A Jinja value: JSON data, undefined, or something callable (a macro or a global function).
struct Value {
  // The data: owned, or (ref) a variable's value in a scope, read without a copy. Variables
  // hold owned values only, and a ref never outlives the expression that read it.
  Json own;
  const Json* ref = nullptr;
  const Json& j() const { return ref ? *ref : own; }
  bool undefined = false;
  const Stmt* macro = nullptr;
  std::string builtin;  // raise_exception, strftime_now, namespace, range, dict

  static Value undef() {
    Value v;
    v.undefined = true;
    return v;
  }
  static Value of(Json j) {
    Value v;
    v.own = std::move(j);
    return v;
  }
};

// Error of `kind` naming the template's line.
[[noreturn]] void fail_at(int line, ErrorKind kind, const std::string& what);
// Python's integers have no bounds; these are 64-bit, and a result past them is an error.
[[noreturn]] void overflow(int line);

bool truthy(const Value& v);
std::string py_str(const Json& j);   // str(): what {{ x }} writes
std::string py_repr(const Json& j);  // repr()
std::string str_of(const Value& v);  // str(), "" for undefined
// json.dumps(x, ensure_ascii=False, indent=indent) (indent < 0: none), appended to `out`.
void dump_json(const Json& j, int indent, int depth, std::string& out);
std::string strip_chars(const std::string& s, const std::string& chars, bool left, bool right);
// str.split(sep, maxsplit) (maxsplit < 0: all), and str.split() when sep is null or undefined.
Json split(const std::string& s, const Value* sep, int64_t maxsplit);
int64_t as_int(const Value& v, int line);  // a number as int(); Error otherwise
// The items a for loop walks: a list's items, a dict's keys, a string's characters.
Json iterable(const Value& v, int line);
// x.name and x[key]: dict keys, list and string positions (negative from the end). An element
// of a referenced variable is referenced too; of an owned value, copied.
Value member(const Value& obj, const Value& key);
bool contains(const Value& hay, const Value& needle);  // `needle in hay`

}  // namespace gqa::serve::jinja

// Evaluates a chat template's syntax tree (jinja_ast.h) over a JSON context with Python's and
// Jinja2's semantics: truthiness, str() of values, scoping (a for loop's body and a macro have
// their own variables; set ns.attr writes through a namespace), and transformers' globals.
#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "serve/jinja_template.h"

namespace gqa::serve::jinja {
namespace {

constexpr int64_t kMaxSteps = 1'000'000;      // loop iterations, range() items, macro calls
constexpr size_t kMaxOutputBytes = 64 << 20;  // the rendered prompt, and any string
constexpr int kMaxDepth = 64;                 // nested macro calls
constexpr size_t kMaxListItems = 1 << 20;     // a list built by +

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

[[noreturn]] void fail_at(int line, ErrorKind kind, const std::string& what) {
  fail(kind, "chat template line " + std::to_string(line) + ": " + what);
}

bool truthy(const Value& v) {
  if (v.undefined) return false;
  if (v.macro || !v.builtin.empty()) return true;
  const Json& j = v.j();
  if (j.is_null()) return false;
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<int64_t>() != 0;
  if (j.is_number()) return j.get<double>() != 0;
  if (j.is_string()) return !j.get_ref<const std::string&>().empty();
  return !j.empty();  // list, dict
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string py_repr(const Json& j);

// Python's str(): what {{ x }} writes.
std::string py_str(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  return py_repr(j);
}

std::string py_repr(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "None";
    case Json::value_t::boolean:
      return j.get<bool>() ? "True" : "False";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return std::to_string(j.get<int64_t>());
    case Json::value_t::number_float:
      return float_repr(j.get<double>());
    case Json::value_t::string: {
      const std::string& s = j.get_ref<const std::string&>();
      const char q =
          s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
      std::string out(1, q);
      for (char c : s) {
        if (c == '\\' || c == q) out += '\\';
        if (c == '\n') {
          out += "\\n";
          continue;
        }
        out += c;
      }
      return out + q;
    }
    case Json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < j.size(); ++i) out += (i ? ", " : "") + py_repr(j[i]);
      return out + "]";
    }
    case Json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : j.items()) {
        out += (first ? "" : ", ") + py_repr(Json(k)) + ": " + py_repr(v);
        first = false;
      }
      return out + "}";
    }
    default:
      return "";
  }
}

std::string str_of(const Value& v) {
  return v.undefined ? "" : py_str(v.j());
}

// json.dumps(x, ensure_ascii=False, indent=indent) as transformers' tojson filter writes it.
void dump_json(const Json& j, int indent, int depth, std::string& out) {
  const auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  const char* item_sep = indent < 0 ? ", " : ",";
  if (j.is_object()) {
    if (j.empty()) {
      out += "{}";
      return;
    }
    out += '{';
    bool first = true;
    for (const auto& [k, v] : j.items()) {
      if (!first) out += item_sep;
      first = false;
      newline(depth + 1);
      out += Json(k).dump(-1, ' ', false, Json::error_handler_t::replace) + ": ";
      dump_json(v, indent, depth + 1, out);
    }
    newline(depth);
    out += '}';
  } else if (j.is_array()) {
    if (j.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < j.size(); ++i) {
      if (i) out += item_sep;
      newline(depth + 1);
      dump_json(j[i], indent, depth + 1, out);
    }
    newline(depth);
    out += ']';
  } else if (j.is_number_float()) {
    out += float_repr(j.get<double>());
  } else if (j.is_boolean()) {
    out += j.get<bool>() ? "true" : "false";
  } else {
    out += j.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
}

const char* kSpace = " \t\n\r\f\v";

std::string strip_chars(const std::string& s, const std::string& chars, bool left, bool right) {
  size_t a = 0, b = s.size();
  if (left)
    while (a < b && chars.find(s[a]) != std::string::npos) ++a;
  if (right)
    while (b > a && chars.find(s[b - 1]) != std::string::npos) --b;
  return s.substr(a, b - a);
}

// Python's str.split(sep, maxsplit) and str.split() (runs of white space).
Json split(const std::string& s, const Value* sep, int64_t maxsplit) {
  Json out = Json::array();
  if (!sep || sep->undefined || sep->j().is_null()) {
    size_t i = 0;
    while (true) {
      i = s.find_first_not_of(kSpace, i);
      if (i == std::string::npos) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        out.push_back(strip_chars(s.substr(i), kSpace, false, true));
        break;
      }
      const size_t e = std::min(s.find_first_of(kSpace, i), s.size());
      out.push_back(s.substr(i, e - i));
      i = e;
    }
    return out;
  }
  const std::string d = str_of(*sep);
  if (d.empty())
    fail(ErrorKind::kInvalidArgument, "chat template: split() with an empty separator");
  size_t i = 0;
  for (;;) {
    const size_t at = s.find(d, i);
    if (at == std::string::npos ||
        (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit)) {
      out.push_back(s.substr(i));
      return out;
    }
    out.push_back(s.substr(i, at - i));
    i = at + d.size();
  }
}

int64_t as_int(const Value& v, int line) {
  if (v.j().is_number_integer()) return v.j().get<int64_t>();
  if (v.j().is_boolean()) return v.j().get<bool>();
  if (v.j().is_number()) {
    const double d = v.j().get<double>();
    if (!(std::fabs(d) < 9.2e18))
      fail_at(line, ErrorKind::kInvalidArgument, "a number out of range");
    return static_cast<int64_t>(d);
  }
  fail_at(line, ErrorKind::kInvalidArgument, "expected a number, got " + py_repr(v.j()));
}

// Python's integers have no bounds; these are 64-bit, and a result past them is an error.
[[noreturn]] void overflow(int line) {
  fail_at(line, ErrorKind::kInvalidArgument, "an integer past 64 bits");
}

class Renderer {
 public:
  explicit Renderer(const Json& context) {
    scopes_.emplace_back();
    for (const auto& [k, v] : context.items()) scopes_.back()[k] = Value::of(v);
    for (const char* f : {"raise_exception", "strftime_now", "namespace", "range", "dict"}) {
      Value b;
      b.builtin = f;
      globals_[f] = b;
    }
  }

  std::string run(const Body& body) {
    exec(body);
    return std::move(out_);
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  void emit(const std::string& s, int line) {
    out_ += s;
    if (out_.size() > kMaxOutputBytes)
      fail_at(line, ErrorKind::kInvalidArgument, "the rendered prompt passes 64 MiB");
  }
  void step(int line) {
    if (++steps_ > kMaxSteps)
      fail_at(line, ErrorKind::kInvalidArgument,
              "the template runs too long (a loop without end?)");
  }

  // A variable's value by reference: templates read `messages` inside loops over it, and a
  // copy per read would make a long conversation quadratic.
  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
      if (auto f = it->find(name); f != it->end()) {
        const Value& stored = f->second;
        if (stored.undefined || stored.macro || !stored.builtin.empty()) return stored;
        Value v;
        v.ref = &stored.own;
        return v;
      }
    if (auto g = globals_.find(name); g != globals_.end()) return g->second;
    return Value::undef();
  }

  // What a variable stores: the value itself, never a reference.
  static Value owned(const Value& v) {
    if (!v.ref) return v;
    Value o = v;
    o.own = *v.ref;
    o.ref = nullptr;
    return o;
  }

  Flow exec(const Body& body) {
    for (const auto& s : body) {
      const Flow f = exec(*s);
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  Flow exec(const Stmt& s) {
    switch (s.kind) {
      case Stmt::Kind::kText:
        emit(s.text, s.line);
        break;
      case Stmt::Kind::kOutput:
        emit(str_of(eval(*s.expr, s.line)), s.line);
        break;
      case Stmt::Kind::kIf:
        for (const auto& [cond, body] : s.branches)
          if (!cond || truthy(eval(*cond, s.line))) return exec(body);
        break;
      case Stmt::Kind::kFor:
        return exec_for(s);
      case Stmt::Kind::kSet:
        exec_set(s);
        break;
      case Stmt::Kind::kMacro: {
        Value m;
        m.macro = &s;
        scopes_.back()[s.targets[0]] = m;
        break;
      }
      case Stmt::Kind::kBreak:
        return Flow::kBreak;
      case Stmt::Kind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  void exec_set(const Stmt& s) {
    Value v;
    if (s.expr) {
      v = eval(*s.expr, s.line);
    } else {
      std::string saved;
      std::swap(saved, out_);
      exec(s.body);
      std::swap(saved, out_);
      v = Value::of(saved);
    }
    if (!s.attr.empty()) {  // set ns.attr = v: write through to the namespace's scope
      for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
        if (auto f = it->find(s.targets[0]); f != it->end() && f->second.j().is_object()) {
          Json value = v.j();  // first: v may refer into this namespace
          f->second.own[s.attr] = std::move(value);
          return;
        }
      fail_at(s.line, ErrorKind::kInvalidArgument,
              "cannot set an attribute of '" + s.targets[0] + "', which is not a namespace");
    }
    assign(s.targets, v, s.line);
  }

  void assign(const std::vector<std::string>& targets, const Value& v, int line) {
    if (targets.size() == 1) {
      scopes_.back()[targets[0]] = owned(v);
      return;
    }
    if (!v.j().is_array() || v.j().size() != targets.size())
      fail_at(
          line, ErrorKind::kInvalidArgument,
          "cannot unpack " + py_repr(v.j()) + " into " + std::to_string(targets.size()) + " names");
    for (size_t i = 0; i < targets.size(); ++i) scopes_.back()[targets[i]] = Value::of(v.j()[i]);
  }

  // The items a for loop walks: a list's items, a dict's keys, a string's characters.
  Json iterable(const Value& v, int line) {
    if (v.undefined || v.j().is_null()) return Json::array();
    if (v.j().is_array()) return v.j();
    if (v.j().is_object()) {
      Json keys = Json::array();
      for (const auto& [k, _] : v.j().items()) keys.push_back(k);
      return keys;
    }
    if (v.j().is_string()) {
      Json chars = Json::array();
      const std::string& s = v.j().get_ref<const std::string&>();
      for (size_t i = 0; i < s.size();) {  // UTF-8 characters
        size_t n = 1;
        while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
        chars.push_back(s.substr(i, n));
        i += n;
      }
      return chars;
    }
    fail_at(line, ErrorKind::kInvalidArgument, py_repr(v.j()) + " is not iterable");
  }

  Flow exec_for(const Stmt& s) {
    const Json all = iterable(eval(*s.expr, s.line), s.line);
    std::vector<const Json*> items;
    for (const Json& x : all) {
      if (s.filter) {
        scopes_.emplace_back();
        assign(s.targets, Value::of(x), s.line);
        const bool keep = truthy(eval(*s.filter, s.line));
        scopes_.pop_back();
        if (!keep) continue;
      }
      items.push_back(&x);
    }
    if (items.empty()) {
      exec(s.else_body);
      return Flow::kNormal;
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      step(s.line);
      scopes_.emplace_back();
      assign(s.targets, Value::of(*items[static_cast<size_t>(i)]), s.line);
      Json loop = {{"index0", i},       {"index", i + 1},  {"revindex0", n - 1 - i},
                   {"revindex", n - i}, {"first", i == 0}, {"last", i == n - 1},
                   {"length", n}};
      if (i > 0) loop["previtem"] = *items[static_cast<size_t>(i - 1)];
      if (i + 1 < n) loop["nextitem"] = *items[static_cast<size_t>(i + 1)];
      scopes_.back()["loop"] = Value::of(std::move(loop));
      const Flow f = exec(s.body);
      scopes_.pop_back();
      if (f == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  Value eval(const Expr& e, int line) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return Value::of(e.value);
      case Expr::Kind::kName:
        return lookup(e.name);
      case Expr::Kind::kList: {
        Json a = Json::array();
        for (const auto& x : e.items) a.push_back(eval(*x, line).j());
        return Value::of(std::move(a));
      }
      case Expr::Kind::kDict: {
        Json o = Json::object();
        for (size_t i = 0; i + 1 < e.items.size(); i += 2)
          o[str_of(eval(*e.items[i], line))] = eval(*e.items[i + 1], line).j();
        return Value::of(std::move(o));
      }
      case Expr::Kind::kAttribute:
        return member(eval(*e.items[0], line), Value::of(e.name));
      case Expr::Kind::kIndex:
        return member(eval(*e.items[0], line), eval(*e.items[1], line));
      case Expr::Kind::kSlice:
        return slice(e, line);
      case Expr::Kind::kCall:
        return call(e, line);
      case Expr::Kind::kFilter:
        return filter(e, line);
      case Expr::Kind::kTest: {
        const bool r = test(e, line);
        return Value::of(e.negate ? !r : r);
      }
      case Expr::Kind::kUnary: {
        const Value v = eval(*e.items[0], line);
        if (e.name == "not") return Value::of(!truthy(v));
        if (!v.j().is_number())
          fail_at(line, ErrorKind::kInvalidArgument, "unary " + e.name + " of a non-number");
        if (e.name == "+") return v;
        if (v.j().is_number_integer() && v.j().get<int64_t>() == INT64_MIN) overflow(line);
        return Value::of(v.j().is_number_integer() ? Json(-v.j().get<int64_t>())
                                                   : Json(-v.j().get<double>()));
      }
      case Expr::Kind::kBinary:
        return binary(e, line);
      case Expr::Kind::kTernary:
        if (truthy(eval(*e.items[1], line))) return eval(*e.items[0], line);
        return e.items[2] ? eval(*e.items[2], line) : Value::undef();
    }
    return Value::undef();
  }

  // x.name and x[key]: dict keys, list and string positions (negative from the end).
  static Value member(const Value& obj, const Value& key) {
    if (obj.undefined) return Value::undef();
    const Json& o = obj.j();
    // An element of a variable is read by reference too; of a temporary, copied.
    auto element = [&](const Json& x) {
      if (!obj.ref) return Value::of(x);
      Value v;
      v.ref = &x;
      return v;
    };
    if (o.is_object()) {
      if (!key.j().is_string()) return Value::undef();
      auto it = o.find(key.j().get<std::string>());
      return it == o.end() ? Value::undef() : element(*it);
    }
    if ((o.is_array() || o.is_string()) && key.j().is_number_integer()) {
      const int64_t n = o.is_array() ? static_cast<int64_t>(o.size())
                                     : static_cast<int64_t>(o.get_ref<const std::string&>().size());
      int64_t i = key.j().get<int64_t>();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undef();
      if (o.is_array()) return element(o[static_cast<size_t>(i)]);
      return Value::of(o.get_ref<const std::string&>().substr(static_cast<size_t>(i), 1));
    }
    return Value::undef();
  }

  // Python's x[a:b:c] over lists and strings.
  Value slice(const Expr& e, int line) {
    const Value obj = eval(*e.items[0], line);
    auto part = [&](int k) -> std::optional<int64_t> {
      if (!e.items[static_cast<size_t>(k)]) return std::nullopt;
      const Value v = eval(*e.items[static_cast<size_t>(k)], line);
      if (v.undefined || v.j().is_null()) return std::nullopt;
      return as_int(v, line);
    };
    const auto start = part(1), stop = part(2), stride = part(3);
    const int64_t step = stride.value_or(1);
    if (step == 0) fail_at(line, ErrorKind::kInvalidArgument, "slice step cannot be zero");
    const bool is_str = obj.j().is_string();
    if (!is_str && !obj.j().is_array()) return Value::undef();
    const int64_t n = is_str ? static_cast<int64_t>(obj.j().get_ref<const std::string&>().size())
                             : static_cast<int64_t>(obj.j().size());
    auto clamp = [&](std::optional<int64_t> v, int64_t def) {
      if (!v) return def;
      int64_t x = *v < 0 ? *v + n : *v;
      if (step > 0) return std::clamp<int64_t>(x, 0, n);
      return std::clamp<int64_t>(x, -1, n - 1);
    };
    const int64_t a = clamp(start, step > 0 ? 0 : n - 1), b = clamp(stop, step > 0 ? n : -1);
    std::vector<int64_t> idx;
    for (int64_t i = a; step > 0 ? i < b : i > b;) {
      idx.push_back(i);
      if (__builtin_add_overflow(i, step, &i)) break;
    }
    if (is_str) {
      std::string out;
      for (int64_t i : idx) out += obj.j().get_ref<const std::string&>()[static_cast<size_t>(i)];
      return Value::of(out);
    }
    Json out = Json::array();
    for (int64_t i : idx) out.push_back(obj.j()[static_cast<size_t>(i)]);
    return Value::of(std::move(out));
  }

  std::vector<Value> args_of(const Expr& e, size_t from, int line) {
    std::vector<Value> a;
    for (size_t i = from; i < e.items.size(); ++i) a.push_back(eval(*e.items[i], line));
    return a;
  }
  Value kwarg(const Expr& e, const char* name, int line) {
    for (const auto& [k, v] : e.kwargs)
      if (k == name) return eval(*v, line);
    return Value::undef();
  }

  Value call(const Expr& e, int line) {
    const Expr& callee = *e.items[0];
    std::vector<Value> args = args_of(e, 1, line);
    if (callee.kind == Expr::Kind::kAttribute) {
      const Value obj = eval(*callee.items[0], line);
      if (obj.j().is_string() || obj.j().is_object() || obj.j().is_array())
        return method(obj, callee.name, args, line);
    }
    const Value f = eval(callee, line);
    if (f.macro) return call_macro(*f.macro, e, args, line);
    if (f.builtin == "raise_exception")
      fail(ErrorKind::kInvalidArgument,
           "the chat template refused the messages: " + (args.empty() ? "" : str_of(args[0])));
    if (f.builtin == "strftime_now") {
      const std::time_t now = std::time(nullptr);
      std::tm tm{};
      localtime_r(&now, &tm);
      char buf[256];
      const size_t n =
          std::strftime(buf, sizeof buf, args.empty() ? "" : str_of(args[0]).c_str(), &tm);
      return Value::of(std::string(buf, n));
    }
    if (f.builtin == "namespace" || f.builtin == "dict") {
      Json o = Json::object();
      for (const auto& [k, v] : e.kwargs) o[k] = eval(*v, line).j();
      return Value::of(std::move(o));
    }
    if (f.builtin == "range") {
      int64_t a = 0, b = 0, st = 1;
      if (args.size() == 1) b = as_int(args[0], line);
      if (args.size() >= 2) a = as_int(args[0], line), b = as_int(args[1], line);
      if (args.size() >= 3) st = as_int(args[2], line);
      if (st == 0) fail_at(line, ErrorKind::kInvalidArgument, "range() step cannot be zero");
      Json out = Json::array();
      for (int64_t i = a; st > 0 ? i < b : i > b;) {
        step(line);
        out.push_back(i);
        if (__builtin_add_overflow(i, st, &i)) break;
      }
      return Value::of(std::move(out));
    }
    fail_at(line, ErrorKind::kUnsupported,
            "'" + (callee.kind == Expr::Kind::kName ? callee.name : std::string("value")) +
                "' is not a function this template engine knows");
  }

  Value call_macro(const Stmt& m, const Expr& e, const std::vector<Value>& args, int line) {
    if (++depth_ > kMaxDepth) fail_at(line, ErrorKind::kInvalidArgument, "macros nest too deep");
    step(line);
    scopes_.emplace_back();
    for (size_t i = 0; i < m.params.size(); ++i) {
      const auto& [name, def] = m.params[i];
      Value v = i < args.size() ? args[i] : kwarg(e, name.c_str(), line);
      if (v.undefined && def) v = eval(*def, line);
      scopes_.back()[name] = owned(v);
    }
    std::string saved;
    std::swap(saved, out_);
    exec(m.body);
    std::swap(saved, out_);
    scopes_.pop_back();
    --depth_;
    return Value::of(saved);
  }

  Value method(const Value& obj, const std::string& name, const std::vector<Value>& a, int line) {
    auto arg_str = [&](size_t i, const char* def) {
      return i < a.size() && !a[i].undefined && !a[i].j().is_null() ? str_of(a[i])
                                                                    : std::string(def);
    };
    if (obj.j().is_string()) {
      const std::string& s = obj.j().get_ref<const std::string&>();
      if (name == "strip") return Value::of(strip_chars(s, arg_str(0, kSpace), true, true));
      if (name == "lstrip") return Value::of(strip_chars(s, arg_str(0, kSpace), true, false));
      if (name == "rstrip") return Value::of(strip_chars(s, arg_str(0, kSpace), false, true));
      if (name == "split")
        return Value::of(
            split(s, a.empty() ? nullptr : &a[0], a.size() > 1 ? as_int(a[1], line) : -1));
      if (name == "startswith" || name == "endswith") {
        const std::string p = arg_str(0, "");
        const bool r = name == "startswith" ? s.compare(0, p.size(), p) == 0
                                            : s.size() >= p.size() &&
                                                  s.compare(s.size() - p.size(), p.size(), p) == 0;
        return Value::of(r);
      }
      if (name == "upper" || name == "lower") {
        std::string r = s;
        for (char& c : r)
          c = static_cast<char>(name == "upper" ? std::toupper(static_cast<unsigned char>(c))
                                                : std::tolower(static_cast<unsigned char>(c)));
        return Value::of(r);
      }
      if (name == "replace") {
        const std::string from = arg_str(0, ""), to = arg_str(1, "");
        if (from.empty()) return obj;
        std::string r;
        size_t i = 0;
        for (size_t at; (at = s.find(from, i)) != std::string::npos; i = at + from.size()) {
          r += s.substr(i, at - i) + to;
          if (r.size() > kMaxOutputBytes)
            fail_at(line, ErrorKind::kInvalidArgument, "a string grows past 64 MiB");
        }
        return Value::of(r + s.substr(i));
      }
      if (name == "find") {
        const size_t at = s.find(arg_str(0, ""));
        return Value::of(at == std::string::npos ? int64_t{-1} : static_cast<int64_t>(at));
      }
    }
    if (obj.j().is_object()) {
      if (name == "items") {
        Json out = Json::array();
        for (const auto& [k, v] : obj.j().items()) out.push_back(Json::array({k, v}));
        return Value::of(std::move(out));
      }
      if (name == "keys" || name == "values") {
        Json out = Json::array();
        for (const auto& [k, v] : obj.j().items()) out.push_back(name == "keys" ? Json(k) : v);
        return Value::of(std::move(out));
      }
      if (name == "get") {
        const Value v = member(obj, a.empty() ? Value::undef() : a[0]);
        if (!v.undefined) return v;
        return a.size() > 1 ? a[1] : Value::of(nullptr);
      }
    }
    fail_at(line, ErrorKind::kUnsupported,
            "the method '" + name + "' is not one this template engine knows");
  }

  Value filter(const Expr& e, int line) {
    const Value v = eval(*e.items[0], line);
    const std::vector<Value> a = args_of(e, 1, line);
    const std::string& f = e.name;
    if (f == "trim")
      return Value::of(strip_chars(str_of(v), a.empty() ? kSpace : str_of(a[0]), true, true));
    if (f == "length" || f == "count") {
      if (v.j().is_string()) return Value::of(static_cast<int64_t>(iterable(v, line).size()));
      return Value::of(static_cast<int64_t>(v.undefined ? 0 : v.j().size()));
    }
    if (f == "tojson") {
      Value ind = kwarg(e, "indent", line);
      if (ind.undefined && !a.empty()) ind = a[0];
      std::string out;
      dump_json(v.j(),
                ind.undefined || ind.j().is_null() ? -1 : static_cast<int>(as_int(ind, line)), 0,
                out);
      return Value::of(out);
    }
    if (f == "string") return Value::of(str_of(v));
    if (f == "safe" || f == "list")
      return f == "list" && !v.j().is_array() ? Value::of(iterable(v, line)) : v;
    if (f == "upper" || f == "lower") return method(Value::of(str_of(v)), f, {}, line);
    if (f == "capitalize" || f == "title") {
      std::string s = str_of(v);
      bool start = true;
      for (char& c : s) {
        const bool alpha = std::isalpha(static_cast<unsigned char>(c));
        c = static_cast<char>(start && alpha ? std::toupper(static_cast<unsigned char>(c))
                              : (f == "capitalize" || !start) && alpha
                                  ? std::tolower(static_cast<unsigned char>(c))
                                  : c);
        start = f == "title" ? !alpha : false;
      }
      return Value::of(s);
    }
    if (f == "replace") return method(Value::of(str_of(v)), "replace", a, line);
    if (f == "default" || f == "d") {
      const bool boolean = a.size() > 1 && truthy(a[1]);
      if (v.undefined || (boolean && !truthy(v))) return a.empty() ? Value::of("") : a[0];
      return v;
    }
    if (f == "first" || f == "last") {
      const Json items = iterable(v, line);
      if (items.empty()) return Value::undef();
      return Value::of(f == "first" ? items.front() : items.back());
    }
    if (f == "join") {
      const std::string sep = a.empty() ? "" : str_of(a[0]);
      std::string out;
      bool first = true;
      for (const Json& x : iterable(v, line)) {
        out += (first ? "" : sep) + py_str(x);
        first = false;
        if (out.size() > kMaxOutputBytes)
          fail_at(line, ErrorKind::kInvalidArgument, "a string grows past 64 MiB");
      }
      return Value::of(out);
    }
    if (f == "reverse") {
      if (v.j().is_string()) {
        std::string s = v.j().get<std::string>();
        std::reverse(s.begin(), s.end());
        return Value::of(s);
      }
      Json items = iterable(v, line);
      std::reverse(items.begin(), items.end());
      return Value::of(std::move(items));
    }
    if (f == "items") return method(v, "items", {}, line);
    if (f == "int") {
      if (v.j().is_string()) {
        try {
          return Value::of(static_cast<int64_t>(std::stoll(v.j().get<std::string>())));
        } catch (...) {
          return Value::of(int64_t{0});
        }
      }
      return Value::of(v.j().is_number() || v.j().is_boolean() ? as_int(v, line) : 0);
    }
    if (f == "abs" && v.j().is_number_integer() && v.j().get<int64_t>() == INT64_MIN)
      overflow(line);
    if (f == "abs" && v.j().is_number())
      return Value::of(v.j().is_number_integer() ? Json(std::llabs(v.j().get<int64_t>()))
                                                 : Json(std::fabs(v.j().get<double>())));
    if (f == "selectattr" || f == "rejectattr" || f == "map") {
      Json out = Json::array();
      for (const Json& x : iterable(v, line)) {
        if (f == "map") {
          const Value attr = kwarg(e, "attribute", line);
          if (attr.undefined) fail_at(line, ErrorKind::kUnsupported, "map() needs attribute=");
          const Value m = member(Value::of(x), attr);
          out.push_back(m.undefined ? Json() : m.j());
          continue;
        }
        if (a.empty()) continue;
        const Value m = member(Value::of(x), a[0]);
        bool ok;
        if (a.size() == 1) {
          ok = truthy(m);
        } else {
          ok = test_value(str_of(a[1]), m, std::vector<Value>(a.begin() + 2, a.end()), line);
        }
        if (ok == (f == "selectattr")) out.push_back(x);
      }
      return Value::of(std::move(out));
    }
    fail_at(line, ErrorKind::kUnsupported,
            "the filter '" + f + "' is not one this template engine knows");
  }

  bool test(const Expr& e, int line) {
    return test_value(e.name, eval(*e.items[0], line), args_of(e, 1, line), line);
  }

  bool test_value(const std::string& t, const Value& v, const std::vector<Value>& a, int line) {
    const Json& j = v.j();
    if (t == "defined") return !v.undefined;
    if (t == "undefined") return v.undefined;
    if (v.undefined && t != "none") return false;
    if (t == "none") return !v.undefined && j.is_null();
    if (t == "string") return j.is_string();
    if (t == "number") return j.is_number();
    if (t == "integer") return j.is_number_integer();
    if (t == "float") return j.is_number_float();
    if (t == "boolean") return j.is_boolean();
    if (t == "true") return j.is_boolean() && j.get<bool>();
    if (t == "false") return j.is_boolean() && !j.get<bool>();
    if (t == "mapping") return j.is_object();
    if (t == "iterable") return j.is_array() || j.is_object() || j.is_string();
    if (t == "sequence") return j.is_array() || j.is_string() || j.is_object();
    if (t == "callable") return v.macro || !v.builtin.empty();
    if (t == "odd" || t == "even")
      return j.is_number_integer() && (j.get<int64_t>() % 2 != 0) == (t == "odd");
    if (t == "divisibleby")
      return !a.empty() && as_int(a[0], line) != 0 && as_int(v, line) % as_int(a[0], line) == 0;
    if (t == "eq" || t == "equalto" || t == "==" || t == "sameas")
      return !a.empty() && j == a[0].j();
    if (t == "ne" || t == "!=") return !a.empty() && j != a[0].j();
    if (t == "in") return !a.empty() && contains(a[0], v);
    if (t == "lower" || t == "upper") {
      if (!j.is_string()) return false;
      const std::string& s = j.get_ref<const std::string&>();
      return std::all_of(s.begin(), s.end(), [&](char c) {
        return !std::isalpha(static_cast<unsigned char>(c)) ||
               (t == "lower" ? std::islower(static_cast<unsigned char>(c))
                             : std::isupper(static_cast<unsigned char>(c)));
      });
    }
    fail_at(line, ErrorKind::kUnsupported,
            "the test '" + t + "' is not one this template engine knows");
  }

  static bool contains(const Value& hay, const Value& needle) {
    if (hay.undefined) return false;
    if (hay.j().is_string())
      return needle.j().is_string() &&
             hay.j().get_ref<const std::string&>().find(needle.j().get_ref<const std::string&>()) !=
                 std::string::npos;
    if (hay.j().is_array())
      return std::find(hay.j().begin(), hay.j().end(), needle.j()) != hay.j().end();
    if (hay.j().is_object())
      return needle.j().is_string() && hay.j().contains(needle.j().get<std::string>());
    return false;
  }

  Value binary(const Expr& e, int line) {
    const std::string& op = e.name;
    if (op == "and") {
      Value a = eval(*e.items[0], line);
      return truthy(a) ? eval(*e.items[1], line) : a;
    }
    if (op == "or") {
      Value a = eval(*e.items[0], line);
      return truthy(a) ? a : eval(*e.items[1], line);
    }
    const Value a = eval(*e.items[0], line), b = eval(*e.items[1], line);
    if (op == "~" || (op == "+" && a.j().is_string() && b.j().is_string())) {
      std::string r = str_of(a);
      const std::string tail = str_of(b);
      if (r.size() + tail.size() > kMaxOutputBytes)
        fail_at(line, ErrorKind::kInvalidArgument, "a string grows past 64 MiB");
      return Value::of(r + tail);
    }
    if (op == "in") return Value::of(contains(b, a));
    if (op == "not in") return Value::of(!contains(b, a));
    if (op == "==") return Value::of(a.undefined == b.undefined && a.j() == b.j());
    if (op == "!=") return Value::of(!(a.undefined == b.undefined && a.j() == b.j()));
    if (op == "+" && a.j().is_array() && b.j().is_array()) {
      if (a.j().size() + b.j().size() > kMaxListItems)
        fail_at(line, ErrorKind::kInvalidArgument, "a list grows past a million items");
      Json r = a.j();
      for (const Json& x : b.j()) r.push_back(x);
      return Value::of(std::move(r));
    }
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
      if (!((a.j().is_number() && b.j().is_number()) || (a.j().is_string() && b.j().is_string())))
        fail_at(line, ErrorKind::kInvalidArgument,
                "cannot compare " + py_repr(a.j()) + " and " + py_repr(b.j()));
      const bool lt = a.j() < b.j(), gt = b.j() < a.j();
      return Value::of(op == "<" ? lt : op == ">" ? gt : op == "<=" ? !gt : !lt);
    }
    if (op == "*" && ((a.j().is_string() && b.j().is_number_integer()) ||
                      (a.j().is_number_integer() && b.j().is_string()))) {
      const std::string s = a.j().is_string() ? a.j().get<std::string>() : b.j().get<std::string>();
      const int64_t n = a.j().is_string() ? b.j().get<int64_t>() : a.j().get<int64_t>();
      if (n > 0 && static_cast<uint64_t>(n) > kMaxOutputBytes / std::max<size_t>(s.size(), 1))
        fail_at(line, ErrorKind::kInvalidArgument, "a string repeated past 64 MiB");
      std::string r;
      for (int64_t i = 0; i < n; ++i) r += s;
      return Value::of(r);
    }
    if (!a.j().is_number() || !b.j().is_number() || a.undefined || b.undefined)
      fail_at(line, ErrorKind::kInvalidArgument,
              "cannot apply '" + op + "' to " +
                  (a.undefined ? "an undefined value" : py_repr(a.j())) + " and " +
                  (b.undefined ? "an undefined value" : py_repr(b.j())));
    const bool ints = a.j().is_number_integer() && b.j().is_number_integer();
    const double x = a.j().get<double>(), y = b.j().get<double>();
    if (op == "/") {
      if (y == 0) fail_at(line, ErrorKind::kInvalidArgument, "division by zero");
      return Value::of(x / y);
    }
    if (ints) {
      const int64_t p = a.j().get<int64_t>(), q = b.j().get<int64_t>();
      int64_t r = 0;
      if (op == "+" || op == "-" || op == "*") {
        const bool over = op == "+"   ? __builtin_add_overflow(p, q, &r)
                          : op == "-" ? __builtin_sub_overflow(p, q, &r)
                                      : __builtin_mul_overflow(p, q, &r);
        if (over) overflow(line);
        return Value::of(r);
      }
      if (op == "//" || op == "%") {
        if (q == 0) fail_at(line, ErrorKind::kInvalidArgument, "division by zero");
        if (q == -1 && p == INT64_MIN) overflow(line);
        int64_t d = p / q, r = p % q;
        if (r != 0 && ((r < 0) != (q < 0))) --d, r += q;  // Python floors
        return Value::of(op == "//" ? d : r);
      }
      if (op == "**" && q >= 0) {  // exact, by squaring
        int64_t result = 1, base = p;
        for (int64_t e = q; e > 0; e >>= 1) {
          if ((e & 1) && __builtin_mul_overflow(result, base, &result)) overflow(line);
          if (e > 1 && __builtin_mul_overflow(base, base, &base)) overflow(line);
        }
        return Value::of(result);
      }
    }
    if (op == "+") return Value::of(x + y);
    if (op == "-") return Value::of(x - y);
    if (op == "*") return Value::of(x * y);
    if (op == "**") return Value::of(std::pow(x, y));
    if (y == 0) fail_at(line, ErrorKind::kInvalidArgument, "division by zero");
    if (op == "//") return Value::of(std::floor(x / y));
    if (op == "%") return Value::of(x - y * std::floor(x / y));
    fail_at(line, ErrorKind::kUnsupported, "unknown operator '" + op + "'");
  }

  std::vector<std::map<std::string, Value>> scopes_;
  std::map<std::string, Value> globals_;
  std::string out_;
  int64_t steps_ = 0;
  int depth_ = 0;
};

}  // namespace

std::string Template::render(const Json& context) const {
  return Renderer(context).run(body_);
}

}  // namespace gqa::serve::jinja

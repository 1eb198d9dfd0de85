// Evaluates a chat template's syntax tree (jinja_ast.h) over a JSON context with Python's and
// Jinja2's semantics: truthiness, str() of values, scoping (a for loop's body and a macro have
// their own variables; set ns.attr writes through a namespace), and transformers' globals.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "serve/jinja_builtins.h"
#include "serve/jinja_template.h"
#include "serve/jinja_value.h"

namespace gqa::serve::jinja {
namespace {

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
        return call_method(obj, callee.name, args, line);
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
    return apply_operator(op, eval(*e.items[0], line), eval(*e.items[1], line), line);
  }

  Value filter(const Expr& e, int line) {
    std::vector<std::pair<std::string, Value>> kwargs;
    for (const auto& [k, x] : e.kwargs) kwargs.emplace_back(k, eval(*x, line));
    return apply_filter(e.name, eval(*e.items[0], line), args_of(e, 1, line), kwargs, line);
  }

  bool test(const Expr& e, int line) {
    return apply_test(e.name, eval(*e.items[0], line), args_of(e, 1, line), line);
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

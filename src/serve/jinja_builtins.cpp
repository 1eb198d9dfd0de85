#include "serve/jinja_builtins.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdlib>

namespace gqa::serve::jinja {

Value call_method(const Value& obj, const std::string& name, const std::vector<Value>& a,
                  int line) {
  auto arg_str = [&](size_t i, const char* def) {
    return i < a.size() && !a[i].undefined && !a[i].j().is_null() ? str_of(a[i]) : std::string(def);
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
      const bool r = name == "startswith"
                         ? s.compare(0, p.size(), p) == 0
                         : s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
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

Value apply_filter(const std::string& f, const Value& v, const std::vector<Value>& a,
                   const std::vector<std::pair<std::string, Value>>& kwargs, int line) {
  auto kwarg = [&](const char* name) {
    for (const auto& [k, x] : kwargs)
      if (k == name) return x;
    return Value::undef();
  };
  if (f == "trim")
    return Value::of(strip_chars(str_of(v), a.empty() ? kSpace : str_of(a[0]), true, true));
  if (f == "length" || f == "count") {
    if (v.j().is_string()) return Value::of(static_cast<int64_t>(iterable(v, line).size()));
    return Value::of(static_cast<int64_t>(v.undefined ? 0 : v.j().size()));
  }
  if (f == "tojson") {
    Value ind = kwarg("indent");
    if (ind.undefined && !a.empty()) ind = a[0];
    std::string out;
    dump_json(v.j(), ind.undefined || ind.j().is_null() ? -1 : static_cast<int>(as_int(ind, line)),
              0, out);
    return Value::of(out);
  }
  if (f == "string") return Value::of(str_of(v));
  if (f == "safe" || f == "list")
    return f == "list" && !v.j().is_array() ? Value::of(iterable(v, line)) : v;
  if (f == "upper" || f == "lower") return call_method(Value::of(str_of(v)), f, {}, line);
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
  if (f == "replace") return call_method(Value::of(str_of(v)), "replace", a, line);
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
  if (f == "items") return call_method(v, "items", {}, line);
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
  if (f == "abs" && v.j().is_number_integer() && v.j().get<int64_t>() == INT64_MIN) overflow(line);
  if (f == "abs" && v.j().is_number())
    return Value::of(v.j().is_number_integer() ? Json(std::llabs(v.j().get<int64_t>()))
                                               : Json(std::fabs(v.j().get<double>())));
  if (f == "selectattr" || f == "rejectattr" || f == "map") {
    Json out = Json::array();
    for (const Json& x : iterable(v, line)) {
      if (f == "map") {
        const Value attr = kwarg("attribute");
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
        ok = apply_test(str_of(a[1]), m, std::vector<Value>(a.begin() + 2, a.end()), line);
      }
      if (ok == (f == "selectattr")) out.push_back(x);
    }
    return Value::of(std::move(out));
  }
  fail_at(line, ErrorKind::kUnsupported,
          "the filter '" + f + "' is not one this template engine knows");
}

bool apply_test(const std::string& t, const Value& v, const std::vector<Value>& a, int line) {
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
  if (t == "eq" || t == "equalto" || t == "==" || t == "sameas") return !a.empty() && j == a[0].j();
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

Value apply_operator(const std::string& op, const Value& a, const Value& b, int line) {
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

}  // namespace gqa::serve::jinja

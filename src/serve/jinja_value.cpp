#include "serve/jinja_value.h"

#include <charconv>
#include <cmath>

namespace gqa::serve::jinja {
namespace {

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

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

[[noreturn]] void overflow(int line) {
  fail_at(line, ErrorKind::kInvalidArgument, "an integer past 64 bits");
}

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

Value member(const Value& obj, const Value& key) {
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

bool contains(const Value& hay, const Value& needle) {
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

}  // namespace gqa::serve::jinja

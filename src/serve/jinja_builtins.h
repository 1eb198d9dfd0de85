#pragma once
// What a chat template can call on its values (jinja_render.cpp): the string and dict methods,
// the filters, the tests after `is`, and the binary operators (all but the short-circuiting
// `and` and `or`), each as Jinja2 and Python define them.
#include <string>
#include <utility>
#include <vector>

#include "serve/jinja_value.h"

namespace gqa::serve::jinja {

// obj.name(args): str.strip/lstrip/rstrip/split/startswith/endswith/upper/lower/replace/find,
// dict.items/keys/values/get. Error (kUnsupported) for another.
Value call_method(const Value& obj, const std::string& name, const std::vector<Value>& args,
                  int line);
// v | name(args, kwargs). Error (kUnsupported) for a filter this engine does not have.
Value apply_filter(const std::string& name, const Value& v, const std::vector<Value>& args,
                   const std::vector<std::pair<std::string, Value>>& kwargs, int line);
// v is name(args). Error (kUnsupported) for a test this engine does not have.
bool apply_test(const std::string& name, const Value& v, const std::vector<Value>& args, int line);
// a op b for ~ + - * / // % ** == != < > <= >= in, not in.
Value apply_operator(const std::string& op, const Value& a, const Value& b, int line);

}  // namespace gqa::serve::jinja

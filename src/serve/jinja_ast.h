#pragma once
// The syntax tree of a Jinja chat template (jinja_template.h): expressions and statements of the
// subset that Hugging Face chat templates use.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace gqa::serve::jinja {

using Json = nlohmann::ordered_json;  // Python dicts keep their order (tojson, items())

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,    // value
    kName,       // name
    kList,       // items
    kDict,       // items as key, value pairs
    kAttribute,  // items[0].name
    kIndex,      // items[0][items[1]]
    kSlice,      // items[0][items[1]:items[2]:items[3]] (null parts: omitted)
    kCall,       // items[0](items[1..]) with keyword arguments in kwargs
    kFilter,     // items[0] | name(items[1..], kwargs)
    kTest,       // items[0] is [not] name(items[1..]); negate
    kUnary,      // op items[0]: "not", "-", "+"
    kBinary,     // items[0] op items[1]
    kTernary,    // items[0] if items[1] else items[2] (null: undefined)
  };
  Kind kind = Kind::kLiteral;
  Json value;        // kLiteral
  std::string name;  // kName, kAttribute, kFilter, kTest; the operator of kUnary and kBinary
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negate = false;  // kTest: "is not"
  int depth = 1;        // of this tree (bounded by the parser)
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind {
    kText,    // text
    kOutput,  // {{ expr }}
    kIf,      // branches: (condition, body)...; a null condition is else
    kFor,     // for targets in expr [if filter]: body [else: else_body]
    kSet,     // set targets (or target.attr) = expr, or set target %}body{% endset
    kMacro,   // macro name(params with defaults): body
    kBreak,
    kContinue,
  };
  Kind kind = Kind::kText;
  std::string text;
  ExprPtr expr, filter;
  std::vector<std::string> targets;  // kFor, kSet: names; kSet with attr: {name}
  std::string attr;                  // kSet: set name.attr = expr
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body, else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // kMacro (null: no default)
  int line = 0;
};

}  // namespace gqa::serve::jinja

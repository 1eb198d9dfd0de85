#pragma once
// Jinja source -> a flat list of pieces: template text (after whitespace control, trim_blocks
// and lstrip_blocks, as transformers configures Jinja2), and the tokens of each {{ }} and {% %}
// tag. Comments disappear.
#include <string>
#include <vector>

namespace gqa::serve::jinja {

struct Token {
  enum class Kind {
    kText,       // template text between tags
    kExprOpen,   // {{
    kExprClose,  // }}
    kStmtOpen,   // {%
    kStmtClose,  // %}
    kName,       // identifiers and keywords
    kString,     // text: the unescaped value
    kInt,
    kFloat,
    kOp,  // text: == != <= >= // ** and one-character operators and brackets
    kEnd,
  };
  Kind kind;
  std::string text;
  int line = 1;
};

// Throws Error (kParse) for an unclosed tag, string or comment, naming the line.
std::vector<Token> lex(const std::string& source);

}  // namespace gqa::serve::jinja

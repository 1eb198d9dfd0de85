// Tokens (jinja_lexer.h) -> the syntax tree (jinja_ast.h), with Jinja2's operator precedence:
//   a if b else c < or < and < not < comparisons, in, is < + - < ~ < * / // % < ** < unary -
//   < postfix (. [] ()) and filters (| f) and tests (is t), which bind tightest.
#include <algorithm>
#include <charconv>

#include "core/error.h"
#include "serve/jinja_lexer.h"
#include "serve/jinja_template.h"

namespace gqa::serve::jinja {
namespace {

using K = Token::Kind;

class Parser {
 public:
  explicit Parser(std::vector<Token> t) : t_(std::move(t)) {}

  Body parse_template() {
    std::string end;
    Body b = parse_body({}, end);
    if (!end.empty()) error("unexpected {% " + end + " %}");
    return b;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(ErrorKind::kParse, "chat template line " + std::to_string(peek().line) + ": " + what);
  }
  const Token& peek(size_t k = 0) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(i_++, t_.size() - 1)]; }
  bool is_op(const char* op, size_t k = 0) const {
    return peek(k).kind == K::kOp && peek(k).text == op;
  }
  bool is_name(const char* n, size_t k = 0) const {
    return peek(k).kind == K::kName && peek(k).text == n;
  }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    ++i_;
    return true;
  }
  bool accept_name(const char* n) {
    if (!is_name(n)) return false;
    ++i_;
    return true;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) error(std::string("expected '") + op + "'");
  }
  std::string expect_name() {
    if (peek().kind != K::kName) error("expected a name");
    return next().text;
  }
  void expect_close() {
    if (peek().kind != K::kStmtClose) error("expected %} after '" + peek().text + "'");
    ++i_;
  }

  // Statements until one of `ends` (its keyword is left in `end`, after the %}) or the end.
  Body parse_body(const std::vector<std::string>& ends, std::string& end) {
    Body body;
    end.clear();
    while (peek().kind != K::kEnd) {
      const Token& tok = peek();
      if (tok.kind == K::kText) {
        auto s = make_stmt(Stmt::Kind::kText, tok.line);
        s->text = tok.text;
        body.push_back(std::move(s));
        ++i_;
      } else if (tok.kind == K::kExprOpen) {
        ++i_;
        auto s = make_stmt(Stmt::Kind::kOutput, tok.line);
        s->expr = parse_expr();
        if (peek().kind != K::kExprClose) error("expected }}");
        ++i_;
        body.push_back(std::move(s));
      } else if (tok.kind == K::kStmtOpen) {
        const std::string kw = peek(1).kind == K::kName ? peek(1).text : "";
        for (const auto& e : ends)
          if (kw == e) {
            i_ += 2;
            end = kw;
            return body;
          }
        ++i_;
        if (auto s = parse_statement()) body.push_back(std::move(s));
      } else {
        error("unexpected '" + tok.text + "'");
      }
    }
    if (!ends.empty()) error("expected {% " + ends.back() + " %} before the end");
    return body;
  }

  std::unique_ptr<Stmt> parse_statement() {
    Nest n(*this);
    const int line = peek().line;
    const std::string kw = expect_name();
    auto s = make_stmt(Stmt::Kind::kText, line);
    std::string end;
    if (kw == "if") {
      s->kind = Stmt::Kind::kIf;
      ExprPtr cond = parse_expr();
      for (;;) {
        expect_close();
        Body b = parse_body({"elif", "else", "endif"}, end);
        s->branches.emplace_back(std::move(cond), std::move(b));
        if (end == "endif") break;
        if (end == "else") {
          expect_close();
          s->branches.emplace_back(nullptr, parse_body({"endif"}, end));
          break;
        }
        cond = parse_expr();  // elif
      }
      expect_close();
    } else if (kw == "for") {
      s->kind = Stmt::Kind::kFor;
      do s->targets.push_back(expect_name());
      while (accept_op(","));
      if (!accept_name("in")) error("expected 'in' in a for loop");
      s->expr = parse_ternary(false);
      if (accept_name("if")) s->filter = parse_or();
      accept_name("recursive");
      expect_close();
      s->body = parse_body({"else", "endfor"}, end);
      if (end == "else") {
        expect_close();
        s->else_body = parse_body({"endfor"}, end);
      }
      expect_close();
    } else if (kw == "set") {
      s->kind = Stmt::Kind::kSet;
      do s->targets.push_back(expect_name());
      while (accept_op(","));
      if (accept_op(".")) s->attr = expect_name();
      if (accept_op("=")) {
        s->expr = parse_tuple();
        expect_close();
      } else {  // {% set x %}...{% endset %}
        expect_close();
        s->body = parse_body({"endset"}, end);
        expect_close();
      }
    } else if (kw == "macro") {
      s->kind = Stmt::Kind::kMacro;
      s->targets.push_back(expect_name());
      expect_op("(");
      while (!accept_op(")")) {
        std::string p = expect_name();
        ExprPtr def;
        if (accept_op("=")) def = parse_expr();
        s->params.emplace_back(std::move(p), std::move(def));
        if (!is_op(")")) expect_op(",");
      }
      expect_close();
      s->body = parse_body({"endmacro"}, end);
      expect_close();
    } else if (kw == "generation") {  // transformers' assistant-mask marker: render the content
      expect_close();
      s->kind = Stmt::Kind::kIf;
      auto always = make(Expr::Kind::kLiteral);
      always->value = true;
      s->branches.emplace_back(std::move(always), parse_body({"endgeneration"}, end));
      expect_close();
    } else if (kw == "break" || kw == "continue") {
      s->kind = kw == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      expect_close();
    } else {
      error("unknown statement '" + kw + "'");
    }
    return s;
  }

  static ExprPtr make(Expr::Kind k) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    return e;
  }
  // Sets e's depth from its operands'; chains (a + b + c ..., x.y.z ..., v | f | g ...) build
  // deep trees in loops, so the bound is checked here too.
  ExprPtr finish(ExprPtr e) {
    for (const auto& x : e->items)
      if (x) e->depth = std::max(e->depth, x->depth + 1);
    for (const auto& [k, x] : e->kwargs)
      if (x) e->depth = std::max(e->depth, x->depth + 1);
    if (e->depth > kMaxNesting) error("an expression nests deeper than 200 levels");
    return e;
  }
  static std::unique_ptr<Stmt> make_stmt(Stmt::Kind k, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = k;
    s->line = line;
    return s;
  }

  // a, b (a tuple without brackets, as in set x = a, b) or one expression.
  ExprPtr parse_tuple() {
    ExprPtr first = parse_expr();
    if (!is_op(",")) return first;
    auto list = make(Expr::Kind::kList);
    list->items.push_back(std::move(first));
    while (accept_op(",")) list->items.push_back(parse_expr());
    return finish(std::move(list));
  }

  // Nesting (brackets, blocks) is bounded, so hostile input cannot exhaust the stack here or in
  // the renderer, which recurses as deep as the tree.
  struct Nest {
    explicit Nest(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxNesting) p_.error("the template nests deeper than 200 levels");
    }
    ~Nest() { --p_.depth_; }
    Parser& p_;
  };
  static constexpr int kMaxNesting = 200;

  ExprPtr parse_expr() {
    Nest n(*this);
    return parse_ternary(true);
  }

  ExprPtr parse_ternary(bool allow) {
    Nest n(*this);
    ExprPtr e = parse_or();
    while (allow && is_name("if")) {
      ++i_;
      auto t = make(Expr::Kind::kTernary);
      t->items.push_back(std::move(e));
      t->items.push_back(parse_or());
      t->items.push_back(accept_name("else") ? parse_ternary(true) : nullptr);
      e = finish(std::move(t));
    }
    return e;
  }

  ExprPtr binary(std::string op, ExprPtr a, ExprPtr b) {
    auto e = make(Expr::Kind::kBinary);
    e->name = std::move(op);
    e->items.push_back(std::move(a));
    e->items.push_back(std::move(b));
    return finish(std::move(e));
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (accept_name("or")) e = binary("or", std::move(e), parse_and());
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (accept_name("and")) e = binary("and", std::move(e), parse_not());
    return e;
  }
  ExprPtr parse_not() {
    Nest n(*this);
    if (accept_name("not")) {
      auto e = make(Expr::Kind::kUnary);
      e->name = "not";
      e->items.push_back(parse_not());
      return finish(std::move(e));
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr e = parse_math1();
    for (;;) {
      if (peek().kind == K::kOp &&
          (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == ">" ||
           peek().text == "<=" || peek().text == ">=")) {
        const std::string op = next().text;
        e = binary(op, std::move(e), parse_math1());
      } else if (is_name("in")) {
        ++i_;
        e = binary("in", std::move(e), parse_math1());
      } else if (is_name("not") && is_name("in", 1)) {
        i_ += 2;
        e = binary("not in", std::move(e), parse_math1());
      } else {
        return e;
      }
    }
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = next().text;
      e = binary(op, std::move(e), parse_concat());
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (accept_op("~")) e = binary("~", std::move(e), parse_math2());
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = next().text;
      e = binary(op, std::move(e), parse_pow());
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary();
    while (accept_op("**")) e = binary("**", std::move(e), parse_unary());
    return e;
  }
  // As Jinja2: the operand of a unary minus takes no filters, the result does (-3 | abs is 3).
  ExprPtr parse_unary(bool with_filters = true) {
    Nest n(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      e = make(Expr::Kind::kUnary);
      e->name = next().text;
      e->items.push_back(parse_unary(false));
      e = finish(std::move(e));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    return with_filters ? parse_filters(std::move(e)) : std::move(e);
  }

  ExprPtr parse_primary() {
    const Token& tok = next();
    switch (tok.kind) {
      case K::kString: {
        std::string s = tok.text;
        while (peek().kind == K::kString) s += next().text;  // 'a' 'b' is 'ab'
        auto e = make(Expr::Kind::kLiteral);
        e->value = s;
        return e;
      }
      case K::kInt: {
        auto e = make(Expr::Kind::kLiteral);
        int64_t v = 0;
        const auto r = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), v);
        if (r.ec != std::errc()) error("the number " + tok.text.substr(0, 40) + " is too large");
        e->value = v;
        return e;
      }
      case K::kFloat: {
        auto e = make(Expr::Kind::kLiteral);
        double v = 0;
        const auto r = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), v);
        if (r.ec != std::errc()) error("the number " + tok.text.substr(0, 40) + " is too large");
        e->value = v;
        return e;
      }
      case K::kName: {
        auto e = make(Expr::Kind::kLiteral);
        if (tok.text == "true" || tok.text == "True") {
          e->value = true;
        } else if (tok.text == "false" || tok.text == "False") {
          e->value = false;
        } else if (tok.text == "none" || tok.text == "None") {
          e->value = nullptr;
        } else {
          e->kind = Expr::Kind::kName;
          e->name = tok.text;
        }
        return e;
      }
      case K::kOp:
        if (tok.text == "(") {
          ExprPtr e = parse_tuple();
          expect_op(")");
          return e;
        }
        if (tok.text == "[") {
          auto e = make(Expr::Kind::kList);
          while (!accept_op("]")) {
            e->items.push_back(parse_expr());
            if (!is_op("]")) expect_op(",");
          }
          return finish(std::move(e));
        }
        if (tok.text == "{") {
          auto e = make(Expr::Kind::kDict);
          while (!accept_op("}")) {
            e->items.push_back(parse_expr());
            expect_op(":");
            e->items.push_back(parse_expr());
            if (!is_op("}")) expect_op(",");
          }
          return finish(std::move(e));
        }
        break;
      default:
        break;
    }
    --i_;
    error("unexpected '" + tok.text + "' in an expression");
  }

  // Call arguments after '(': positional ones into e->items (after those it has), keyword ones
  // into e->kwargs.
  void parse_args(Expr& e) {
    while (!accept_op(")")) {
      if (peek().kind == K::kName && is_op("=", 1)) {
        std::string key = next().text;
        ++i_;
        e.kwargs.emplace_back(std::move(key), parse_expr());
      } else {
        e.items.push_back(parse_expr());
      }
      if (!is_op(")")) expect_op(",");
    }
  }

  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      if (accept_op(".")) {
        auto a = make(Expr::Kind::kAttribute);
        a->name = expect_name();
        a->items.push_back(std::move(e));
        e = finish(std::move(a));
      } else if (accept_op("[")) {
        ExprPtr parts[3];
        bool slice = false;
        for (int k = 0; k < 3; ++k) {
          if (!is_op(":") && !is_op("]")) parts[k] = parse_expr();
          if (k < 2 && accept_op(":")) {
            slice = true;
            continue;
          }
          break;
        }
        expect_op("]");
        if (!slice && !parts[0]) error("expected an index between [ and ]");
        auto x = make(slice ? Expr::Kind::kSlice : Expr::Kind::kIndex);
        x->items.push_back(std::move(e));
        for (int k = 0; k < (slice ? 3 : 1); ++k) x->items.push_back(std::move(parts[k]));
        e = finish(std::move(x));
      } else if (accept_op("(")) {
        auto c = make(Expr::Kind::kCall);
        c->items.push_back(std::move(e));
        parse_args(*c);
        e = finish(std::move(c));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filters(ExprPtr e) {
    for (;;) {
      if (accept_op("|")) {
        auto f = make(Expr::Kind::kFilter);
        f->name = expect_name();
        f->items.push_back(std::move(e));
        if (accept_op("(")) parse_args(*f);
        e = finish(std::move(f));
      } else if (accept_name("is")) {
        auto t = make(Expr::Kind::kTest);
        t->negate = accept_name("not");
        t->name = expect_name();
        t->items.push_back(std::move(e));
        if (accept_op("(")) {
          parse_args(*t);
        } else if (peek().kind == K::kString || peek().kind == K::kInt ||
                   peek().kind == K::kFloat ||
                   (peek().kind == K::kName && !is_name("and") && !is_name("or") &&
                    !is_name("else") && !is_name("if") && !is_name("in") && !is_name("not") &&
                    !is_name("is"))) {
          t->items.push_back(parse_primary());  // is divisibleby 3, is sameas false
        }
        e = finish(std::move(t));
      } else {
        return e;
      }
    }
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

Template::Template(const std::string& source) : body_(Parser(lex(source)).parse_template()) {}
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

}  // namespace gqa::serve::jinja

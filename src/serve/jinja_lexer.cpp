#include "serve/jinja_lexer.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace gqa::serve::jinja {
namespace {

[[noreturn]] void syntax_error(int line, const std::string& what) {
  fail(ErrorKind::kParse, "chat template line " + std::to_string(line) + ": " + what);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int count_lines(const std::string& s, size_t from, size_t to) {
  int n = 0;
  for (size_t i = from; i < to; ++i) n += s[i] == '\n';
  return n;
}

class Lexer {
 public:
  explicit Lexer(const std::string& src) : s_(src) {}

  std::vector<Token> run() {
    size_t text_start = 0;
    bool strip_next = false;    // the previous tag ended with -%} / -}} / -#}
    bool trim_newline = false;  // the previous tag was a block or comment tag (trim_blocks)
    for (;;) {
      const size_t open = find_open(text_start);
      std::string text = s_.substr(text_start, open - text_start);
      if (trim_newline && !text.empty() && text[0] == '\n') text.erase(0, 1);
      if (strip_next) text.erase(0, std::min(text.size(), text.find_first_not_of(" \t\n\r\f\v")));
      if (open == s_.size()) {
        push_text(std::move(text));
        break;
      }
      const char kind = s_[open + 1];  // { % #
      const bool minus = open + 2 < s_.size() && s_[open + 2] == '-';
      const bool plus = open + 2 < s_.size() && s_[open + 2] == '+';
      if (minus) {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (kind != '{' && !plus) {  // lstrip_blocks: blanks before a tag that starts a line
        size_t ws = open;
        while (ws > text_start && (s_[ws - 1] == ' ' || s_[ws - 1] == '\t')) --ws;
        if (ws == 0 || s_[ws - 1] == '\n')
          text.erase(text.size() - std::min(text.size(), open - ws));
      }
      push_text(std::move(text));
      line_ = 1 + count_lines(s_, 0, open);
      size_t p = open + 2 + (minus || plus ? 1 : 0);
      if (kind == '#') {
        const size_t close = s_.find("#}", p);
        if (close == std::string::npos) syntax_error(line_, "a comment {# is never closed");
        strip_next = s_[close - 1] == '-';
        trim_newline = true;
        text_start = close + 2;
        continue;
      }
      tokens_.push_back({kind == '{' ? Token::Kind::kExprOpen : Token::Kind::kStmtOpen, "", line_});
      const std::string close_mark = kind == '{' ? "}}" : "%}";
      p = lex_tag(p, close_mark);
      strip_next = s_[p - 1] == '-';  // lex_tag stopped past a '-' before the mark
      tokens_.push_back(
          {kind == '{' ? Token::Kind::kExprClose : Token::Kind::kStmtClose, "", line_});
      trim_newline = kind == '%';
      text_start = p + 2;
    }
    tokens_.push_back({Token::Kind::kEnd, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t find_open(size_t from) const {
    for (size_t i = from; i + 1 < s_.size(); ++i)
      if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    return s_.size();
  }

  void push_text(std::string text) {
    if (!text.empty()) tokens_.push_back({Token::Kind::kText, std::move(text), line_});
  }

  // Tokens from p to the closing mark; returns the position of the mark ('-' included: then
  // s_[returned - 1] is the '-' and the mark follows it).
  size_t lex_tag(size_t p, const std::string& close) {
    for (;;) {
      while (p < s_.size() && is_space(s_[p])) line_ += s_[p++] == '\n';
      if (p >= s_.size()) syntax_error(line_, "a tag is never closed (" + close + ")");
      if (s_[p] == '-' && s_.compare(p + 1, 2, close) == 0) return p + 1;
      if (s_.compare(p, 2, close) == 0) return p;
      const char c = s_[p];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = p;
        while (e < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[e])) || s_[e] == '_'))
          ++e;
        tokens_.push_back({Token::Kind::kName, s_.substr(p, e - p), line_});
        p = e;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t e = p;
        while (e < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[e])) || s_[e] == '_'))
          ++e;
        bool is_float = false;
        if (e + 1 < s_.size() && s_[e] == '.' &&
            std::isdigit(static_cast<unsigned char>(s_[e + 1]))) {
          is_float = true;
          ++e;
          while (e < s_.size() && std::isdigit(static_cast<unsigned char>(s_[e]))) ++e;
        }
        std::string num = s_.substr(p, e - p);
        std::erase(num, '_');
        tokens_.push_back({is_float ? Token::Kind::kFloat : Token::Kind::kInt, num, line_});
        p = e;
      } else if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else {
        static const char* two[] = {"==", "!=", "<=", ">=", "//", "**"};
        std::string op(1, c);
        for (const char* t : two)
          if (s_.compare(p, 2, t) == 0) op = t;
        if (op.size() == 1 && std::string("+-*/%~<>=()[]{}.,:|").find(c) == std::string::npos)
          syntax_error(line_, std::string("unexpected character '") + c + "'");
        tokens_.push_back({Token::Kind::kOp, op, line_});
        p += op.size();
      }
    }
  }

  size_t lex_string(size_t p) {
    const char quote = s_[p++];
    std::string out;
    while (p < s_.size() && s_[p] != quote) {
      char c = s_[p++];
      if (c == '\n') ++line_;
      if (c == '\\' && p < s_.size()) {
        const char e = s_[p++];
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          case 'r':
            c = '\r';
            break;
          case '\\':
            c = '\\';
            break;
          case '\'':
            c = '\'';
            break;
          case '"':
            c = '"';
            break;
          default:
            out += '\\';
            c = e;
        }
      }
      out += c;
    }
    if (p >= s_.size()) syntax_error(line_, "a string is never closed");
    tokens_.push_back({Token::Kind::kString, std::move(out), line_});
    return p + 1;
  }

  const std::string& s_;
  std::vector<Token> tokens_;
  int line_ = 1;
};

}  // namespace

std::vector<Token> lex(const std::string& source) {
  return Lexer(source).run();
}

}  // namespace gqa::serve::jinja

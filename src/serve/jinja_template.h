#pragma once
// Jinja chat templates (tokenizer_config.json's chat_template) rendered as transformers'
// apply_chat_template renders them: Jinja2 with trim_blocks and lstrip_blocks, the loop
// controls extension, and the globals raise_exception and strftime_now. Debian has no Jinja
// engine for C++, so this is a faithful subset, checked against @huggingface/jinja on the real
// templates of the families gqa runs (tests/test_jinja_template.cpp):
//   {{ }} {% %} {# #} with - whitespace control; if/elif/else, for (loop.*, else, an if
//   filter, unpacking), set (also ns.attr and block form), macro, break, continue,
//   generation blocks (their content is rendered);
//   literals, lists, dicts, attribute/index/slice access, calls with keyword arguments,
//   + - * / // % ~, comparisons, in, not in, and, or, not, a if b else c;
//   the filters and tests and the string/dict methods the templates use (jinja_builtins.h).
// Errors name the template's line. A template runs with bounded work: loop steps, string and
// list sizes and nesting are capped, so a hostile template cannot hang or exhaust the server.
#include <memory>
#include <string>

#include "serve/jinja_ast.h"

namespace gqa::serve::jinja {

class Template {
 public:
  // Throws Error (kParse) for a syntax error, naming the line.
  explicit Template(const std::string& source);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // `context` holds messages, add_generation_prompt, bos_token, eos_token and the like.
  // Throws Error: kInvalidArgument for raise_exception() (the template refuses the messages),
  // and past the work bounds, kUnsupported for an unknown filter, test, method or function.
  std::string render(const Json& context) const;

 private:
  Body body_;
};

}  // namespace gqa::serve::jinja

// libFuzzer target: a chat_template (tokenizer_config.json, written by strangers) parsed and
// rendered over a short conversation, as gqa serve renders it. Syntax errors, raise_exception
// and the work bounds end in Error; nothing may crash, hang or grow without bound.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "serve/jinja_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using gqa::serve::jinja::Json;
  static const Json context = {
      {"messages",
       Json::array({{{"role", "system"}, {"content", "Be brief."}},
                    {{"role", "user"}, {"content", " In the beginning "}},
                    {{"role", "assistant"}, {"content", "<think>\nx\n</think>\n\nGod created"}},
                    {{"role", "user"}, {"content", "And then?"}}})},
      {"add_generation_prompt", true},
      {"bos_token", "<s>"},
      {"eos_token", "</s>"}};
  try {
    const gqa::serve::jinja::Template t(std::string(reinterpret_cast<const char*>(data), size));
    t.render(context);
  } catch (const gqa::Error&) {
  }
  return 0;
}

#pragma once
// Chat messages -> prompt token ids. Hugging Face checkpoints carry a Jinja chat_template in
// tokenizer_config.json; by default the server renders that template itself (jinja_template.h),
// as transformers' apply_chat_template does with add_generation_prompt. The template's
// <|...|> markers are then read as special tokens and its bos_token/eos_token text as the
// BOS/EOS ids, while the messages' content, found in the rendered text, is read as plain text
// (so "<|im_start|>" typed by a client stays text: split_special_tokens). Content a template
// rewrites (Qwen3 drops past reasoning) is not found and is read like the markup.
// --chat-format picks one of the families the server also renders natively instead:
//   llama2  "<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>..."
//           (Llama 2 chat, Mistral/Mixtral instruct: the template contains "[INST]")
//   zephyr  "<|system|>\n{system}</s>\n<|user|>\n{user}</s>\n<|assistant|>\n" (TinyLlama chat)
//   chatml  "<|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n" (Qwen)
//   llama3  "<|begin_of_text|><|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>
//           ... <|start_header_id|>assistant<|end_header_id|>\n\n"
//   phi3    "<s><|system|>\n{system}<|end|>\n<|user|>\n{user}<|end|>\n<|assistant|>\n" (Phi-3;
//           BOS when the template starts with bos_token)
//   phi4    "<|system|>{system}<|end|><|user|>{user}<|end|><|assistant|>" (Phi-4-mini)
//   gemma   "<bos><start_of_turn>user\n{system}\n\n{user}<end_of_turn>\n<start_of_turn>model\n"
//           (Gemma 3: the system text opens the first user turn, content is trimmed, "model" is
//           the assistant's role, roles alternate)
//   plain   the default when there is no template: "{system}\n\nUser: {user}\nAssistant:
//           {assistant}\n...Assistant:" after BOS.
// <s> and </s> become the BOS/EOS ids, never text.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "serve/jinja_template.h"

#include "tokenizer/tokenizer.h"

namespace gqa::serve {

enum class ChatFormat {
  kPlain,
  kLlama2,
  kZephyr,
  kChatML,
  kLlama3,
  kPhi3,
  kPhi4,
  kGemma,
  kTemplate,  // the checkpoint's Jinja chat_template
};

struct ChatMessage {
  std::string role;  // system, user or assistant
  std::string content;
};

struct ChatFormatChoice {
  ChatFormat format = ChatFormat::kPlain;
  std::string source;  // where it came from, for the startup log
  // kTemplate: the parsed template and the texts of its bos_token and eos_token.
  std::shared_ptr<const jinja::Template> tmpl;
  std::string bos_text, eos_text;
};

// From tokenizer_config.json's chat_template: the template itself; plain when there is none.
// A template the Jinja engine cannot parse falls back to its family (source says why). Throws
// Error for malformed JSON, or an unparsable template of no known family (the user picks one
// with --chat-format).
ChatFormatChoice detect_chat_format(const std::filesystem::path& checkpoint_dir);
// A --chat-format name: a family, or "template" (the checkpoint's chat_template, which must
// parse). "auto" is not accepted here. Throws Error naming the choices.
ChatFormatChoice choose_chat_format(const std::string& name,
                                    const std::filesystem::path& checkpoint_dir);
// A family's name. Throws Error naming the choices.
ChatFormat parse_chat_format(const std::string& name);
const char* chat_format_name(ChatFormat f);

// The conversation, ending with the cue for the assistant's reply. Throws Error for an
// unknown role or a format rule the messages break (llama2: system only first; gemma:
// alternating user and assistant turns after an optional system message).
std::vector<int32_t> render_chat(ChatFormat f, const std::vector<ChatMessage>& messages,
                                 const tok::Tokenizer& tok);
// The same with a choice; kTemplate renders its template (Error kInvalidArgument when the
// template refuses the messages with raise_exception).
std::vector<int32_t> render_chat(const ChatFormatChoice& c,
                                 const std::vector<ChatMessage>& messages,
                                 const tok::Tokenizer& tok);

}  // namespace gqa::serve

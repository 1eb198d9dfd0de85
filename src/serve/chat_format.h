#pragma once
// Chat messages -> prompt token ids. Hugging Face checkpoints carry a Jinja chat_template in
// tokenizer_config.json; Debian has no Jinja engine for C++, so the server recognizes the
// common template families and renders them natively (with tokenizer.json, the template's
// <|...|> markers are its added tokens and are matched as such; the messages' content is read
// as plain text, so "<|im_start|>" typed by a client stays text: split_special_tokens):
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
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace gqa::serve {

enum class ChatFormat { kPlain, kLlama2, kZephyr, kChatML, kLlama3, kPhi3, kPhi4, kGemma };

struct ChatMessage {
  std::string role;  // system, user or assistant
  std::string content;
};

struct ChatFormatChoice {
  ChatFormat format = ChatFormat::kPlain;
  std::string source;  // where it came from, for the startup log
};

// From tokenizer_config.json's chat_template; plain when there is none. Throws Error for a
// template of an unknown family (the user picks one with --chat-format) or malformed JSON.
ChatFormatChoice detect_chat_format(const std::filesystem::path& checkpoint_dir);
// "auto" is not accepted here. Throws Error naming the choices.
ChatFormat parse_chat_format(const std::string& name);
const char* chat_format_name(ChatFormat f);

// The conversation, ending with the cue for the assistant's reply. Throws Error for an
// unknown role or a format rule the messages break (llama2: system only first; gemma:
// alternating user and assistant turns after an optional system message).
std::vector<int32_t> render_chat(ChatFormat f, const std::vector<ChatMessage>& messages,
                                 const tok::Tokenizer& tok);

}  // namespace gqa::serve

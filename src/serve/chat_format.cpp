#include "serve/chat_format.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_parse.h"
#include "core/text_file.h"

namespace gqa::serve {
namespace {

// Builds the prompt in order: the template's markup (its special-token text is read as special
// tokens), the messages' content (read as plain text, so a client cannot inject <|im_start|> or
// <|eot_id|>; transformers' split_special_tokens), and BOS/EOS ids. Markup and content between
// two ids are tokenized as one text, so the ids equal those of the rendered string whenever the
// content holds no special-token text.
class PromptBuilder {
 public:
  explicit PromptBuilder(const tok::Tokenizer& tok) : tok_(tok) {}
  void markup(std::string s) { pending_.push_back({std::move(s), true}); }
  void content(std::string s) { pending_.push_back({std::move(s), false}); }
  void bos() {
    flush();
    if (tok_.bos_id()) ids_.push_back(*tok_.bos_id());
  }
  void eos() {
    flush();
    if (tok_.eos_id()) ids_.push_back(*tok_.eos_id());
  }
  std::vector<int32_t> finish() {
    flush();
    return std::move(ids_);
  }

 private:
  void flush() {
    std::vector<tok::TextPart> parts;
    for (const auto& [text, special] : pending_)
      if (!text.empty()) parts.push_back({text, special});
    if (!parts.empty()) {
      const auto piece = tok_.encode_parts(parts);
      ids_.insert(ids_.end(), piece.begin(), piece.end());
    }
    pending_.clear();
  }

  const tok::Tokenizer& tok_;
  std::vector<int32_t> ids_;
  std::vector<std::pair<std::string, bool>> pending_;  // text, special-token text allowed
};

void check_role(const ChatMessage& m) {
  if (m.role != "system" && m.role != "user" && m.role != "assistant")
    fail(ErrorKind::kInvalidArgument,
         "message role '" + m.role + "' is not one of system, user, assistant");
}

void render_llama2(const std::vector<ChatMessage>& msgs, PromptBuilder& b) {
  std::string system;
  size_t i = 0;
  if (!msgs.empty() && msgs[0].role == "system") system = msgs[i++].content;
  bool first_user = true;
  for (; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    if (m.role == "system")
      fail(ErrorKind::kInvalidArgument, "llama2 chat format: a system message must come first");
    if (m.role == "user") {
      b.bos();
      b.markup("[INST] ");
      if (first_user && !system.empty()) {
        b.markup("<<SYS>>\n");
        b.content(system);
        b.markup("\n<</SYS>>\n\n");
      }
      b.content(m.content);
      b.markup(" [/INST]");
      first_user = false;
    } else {
      b.markup(" ");
      b.content(m.content);
      b.markup(" ");
      b.eos();
    }
  }
}

void render_zephyr(const std::vector<ChatMessage>& msgs, PromptBuilder& b) {
  b.bos();
  for (const ChatMessage& m : msgs) {
    b.markup("<|" + m.role + "|>\n");
    b.content(m.content);
    b.eos();
    b.markup("\n");
  }
  b.markup("<|assistant|>\n");
}

void render_chatml(const std::vector<ChatMessage>& msgs, PromptBuilder& b) {
  for (const ChatMessage& m : msgs) {
    b.markup("<|im_start|>" + m.role + "\n");
    b.content(m.content);
    b.markup("<|im_end|>\n");
  }
  b.markup("<|im_start|>assistant\n");
}

void render_llama3(const std::vector<ChatMessage>& msgs, PromptBuilder& b) {
  b.markup("<|begin_of_text|>");
  for (const ChatMessage& m : msgs) {
    b.markup("<|start_header_id|>" + m.role + "<|end_header_id|>\n\n");
    b.content(m.content);
    b.markup("<|eot_id|>");
  }
  b.markup("<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// Phi-3 (newline after each marker, BOS first when its template starts with bos_token) and
// Phi-4-mini (no newlines, no BOS).
void render_phi(const std::vector<ChatMessage>& msgs, PromptBuilder& b, bool newlines) {
  const std::string nl = newlines ? "\n" : "";
  if (newlines) b.bos();
  for (const ChatMessage& m : msgs) {
    b.markup("<|" + m.role + "|>" + nl);
    b.content(m.content);
    b.markup("<|end|>" + nl);
  }
  b.markup("<|assistant|>" + nl);
}

// Jinja's trim: leading and trailing white space.
std::string trimmed(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

void render_gemma(const std::vector<ChatMessage>& msgs, PromptBuilder& b) {
  b.bos();
  size_t i = 0;
  std::string system;
  if (msgs[0].role == "system") system = msgs[i++].content + "\n\n";
  for (size_t turn = 0; i < msgs.size(); ++i, ++turn) {
    const ChatMessage& m = msgs[i];
    if ((m.role == "user") != (turn % 2 == 0))
      fail(ErrorKind::kInvalidArgument,
           "gemma chat format: roles must alternate user, assistant, user, ... after an optional "
           "first system message");
    b.markup("<start_of_turn>" + std::string(m.role == "assistant" ? "model" : "user") + "\n");
    if (turn == 0) b.content(system);
    b.content(trimmed(m.content));
    b.markup("<end_of_turn>\n");
  }
  b.markup("<start_of_turn>model\n");
}

void render_plain(const std::vector<ChatMessage>& msgs, PromptBuilder& b) {
  b.bos();
  for (const ChatMessage& m : msgs) {
    if (m.role == "system") {
      b.content(m.content);
      b.markup("\n\n");
    } else {
      b.markup(m.role == "user" ? "User: " : "Assistant: ");
      b.content(m.content);
      b.markup("\n");
    }
  }
  b.markup("Assistant:");
}

}  // namespace

ChatFormat parse_chat_format(const std::string& name) {
  if (name == "plain") return ChatFormat::kPlain;
  if (name == "llama2") return ChatFormat::kLlama2;
  if (name == "zephyr") return ChatFormat::kZephyr;
  if (name == "chatml") return ChatFormat::kChatML;
  if (name == "llama3") return ChatFormat::kLlama3;
  if (name == "phi3") return ChatFormat::kPhi3;
  if (name == "phi4") return ChatFormat::kPhi4;
  if (name == "gemma") return ChatFormat::kGemma;
  fail(ErrorKind::kInvalidArgument, "unknown chat format '" + name +
                                        "' (choices: auto, plain, llama2, zephyr, chatml, llama3, "
                                        "phi3, phi4, gemma)");
}

const char* chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::kLlama2:
      return "llama2";
    case ChatFormat::kZephyr:
      return "zephyr";
    case ChatFormat::kChatML:
      return "chatml";
    case ChatFormat::kLlama3:
      return "llama3";
    case ChatFormat::kPhi3:
      return "phi3";
    case ChatFormat::kPhi4:
      return "phi4";
    case ChatFormat::kGemma:
      return "gemma";
    case ChatFormat::kPlain:
      break;
  }
  return "plain";
}

ChatFormatChoice detect_chat_format(const std::filesystem::path& dir) {
  const auto path = dir / "tokenizer_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return {ChatFormat::kPlain, "default (no tokenizer_config.json)"};
  const nlohmann::json j = parse_json(read_text_file(path, kMaxTokenizerFileBytes), path.string());
  if (!j.contains("chat_template") || j["chat_template"].is_null())
    return {ChatFormat::kPlain, "default (tokenizer_config.json has no chat_template)"};
  std::string tmpl;
  if (j["chat_template"].is_string()) {
    tmpl = j["chat_template"].get<std::string>();
  } else if (j["chat_template"].is_array()) {  // named templates: take "default"
    for (const auto& t : j["chat_template"])
      if (t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
        tmpl = t["template"].get<std::string>();
  }
  const std::string from = "tokenizer_config.json chat_template";
  if (tmpl.find("<|im_start|>") != std::string::npos) return {ChatFormat::kChatML, from};
  if (tmpl.find("<|start_header_id|>") != std::string::npos) return {ChatFormat::kLlama3, from};
  if (tmpl.find("<start_of_turn>") != std::string::npos) return {ChatFormat::kGemma, from};
  if (tmpl.find("<|end|>") != std::string::npos) {  // Phi-4-mini puts content right after |>
    const bool phi4 = tmpl.find("'|>' + message['content']") != std::string::npos;
    return {phi4 ? ChatFormat::kPhi4 : ChatFormat::kPhi3, from};
  }
  if (tmpl.find("<|user|>") != std::string::npos) return {ChatFormat::kZephyr, from};
  if (tmpl.find("[INST]") != std::string::npos) return {ChatFormat::kLlama2, from};
  fail(ErrorKind::kUnsupported,
       path.string() +
           ": the chat_template is not of a family the server knows (llama2, zephyr, chatml, "
           "llama3, phi3, phi4, gemma); pick one with --chat-format");
}

std::vector<int32_t> render_chat(ChatFormat f, const std::vector<ChatMessage>& messages,
                                 const tok::Tokenizer& tok) {
  if (messages.empty()) fail(ErrorKind::kInvalidArgument, "'messages' is empty");
  for (const ChatMessage& m : messages) check_role(m);
  PromptBuilder b(tok);
  switch (f) {
    case ChatFormat::kLlama2:
      render_llama2(messages, b);
      break;
    case ChatFormat::kZephyr:
      render_zephyr(messages, b);
      break;
    case ChatFormat::kChatML:
      render_chatml(messages, b);
      break;
    case ChatFormat::kLlama3:
      render_llama3(messages, b);
      break;
    case ChatFormat::kPhi3:
      render_phi(messages, b, true);
      break;
    case ChatFormat::kPhi4:
      render_phi(messages, b, false);
      break;
    case ChatFormat::kGemma:
      render_gemma(messages, b);
      break;
    case ChatFormat::kPlain:
      render_plain(messages, b);
      break;
  }
  return b.finish();
}

}  // namespace gqa::serve

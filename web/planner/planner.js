// The KV planner page. It computes nothing itself: every number comes from GET /v1/plan (the
// gqa planner); this file only reads the inputs, asks, and draws the answer. The inputs live in
// the address bar too (the same names as /v1/plan's parameters), so a plan can be shared.
"use strict";

const $ = (id) => document.getElementById(id);
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const CONFIG = "__config__";
// Inputs that map one to one onto /v1/plan parameters (and the page's URL).
const FIELDS = [
  ["kv-dtype", "kv_dtype"], ["ctx", "ctx"], ["users", "users"], ["gpu", "gpu"],
  ["memory", "memory"], ["tp", "tp"], ["overhead", "overhead"], ["weights-dtype", "weights_dtype"],
];

const state = {
  model: null,     // {preset} or {config}
  kvHeads: null,   // null: the model's own grouping
  valid: [],       // the divisors of the query heads, ascending, from the planner
  request: 0,      // the newest request; older answers are dropped
  plan: null,      // the last answer shown
  gpus: [],
};

// Bytes to text: MiB below 1 GiB ("0.125 MiB", "512 MiB"), else GiB; 4 significant digits.
function formatBytes(bytes) {
  const num = (x) => Number(x.toPrecision(4)).toLocaleString("en-US", { maximumFractionDigits: 6 });
  return bytes >= GiB ? `${num(bytes / GiB)} GiB` : `${num(bytes / MiB)} MiB`;
}
const formatCount = (n) => Number(n).toLocaleString("en-US");
const plural = (n, word) => `${formatCount(n)} ${word}${Number(n) === 1 ? "" : "s"}`;

function groupingName(kvHeads, heads) {
  return kvHeads === heads ? "MHA" : kvHeads === 1 ? "MQA" : `GQA-${kvHeads}`;
}
// "GQA-8, 4 query heads per KV head": what a screen reader says for the slider.
function groupingText(kvHeads, heads) {
  const rep = heads / kvHeads;
  return `${groupingName(kvHeads, heads)}, ${plural(rep, "query head")} per KV head`;
}

function query() {
  const p = new URLSearchParams();
  if (state.model.preset) p.set("preset", state.model.preset);
  else p.set("config", state.model.config);
  if (state.kvHeads !== null) p.set("kv_heads", state.kvHeads);
  for (const [id, name] of FIELDS) {
    const v = $(id).value.trim();
    if (v && !(id === "memory" && $("gpu").value)) p.set(name, v);
  }
  return p;
}

// The address bar: what is needed to show this page again.
function saveToUrl() {
  const p = query();
  history.replaceState(null, "", `${location.pathname}?${p}`);
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  $("results").classList.add("stale");  // what is below no longer answers these inputs
  document.body.dataset.state = "error";
  box.scrollIntoView({ block: "nearest" });
  box.focus({ preventScroll: true });
}

async function update() {
  if (!state.model) return;
  const id = ++state.request;
  let plan;
  try {
    const p = query();
    p.set("per_layer", "1");
    const res = await fetch(`/v1/plan?${p}`);
    const body = await res.json();
    if (id !== state.request) return;
    if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
    plan = body;
  } catch (e) {
    if (id !== state.request) return;
    showError(e.message);
    return;
  }
  $("error").hidden = true;
  $("results").classList.remove("stale");
  show(plan);
  saveToUrl();
  document.body.dataset.state = "ready";
}

function setSlider(plan) {
  state.valid = plan.valid_kv_heads.slice().sort((a, b) => a - b);
  const slider = $("kv-heads");
  slider.min = 0;
  slider.max = state.valid.length - 1;
  $("kv-ticks").replaceChildren(...state.valid.map((_, i) => new Option("", i)));
  $("scale-mha").textContent = `MHA = ${plan.heads}`;
}

function showVerdict(plan) {
  const box = $("verdict");
  box.hidden = plan.fits === undefined;
  $("sessions-card").classList.toggle("bad", plan.users > (plan.sessions_fit ?? Infinity));
  if (box.hidden) return;
  const gpus = plan.tp > 1 ? ` on each of ${plan.tp} GPUs` : "";
  const ctx = formatCount(plan.ctx);
  box.classList.toggle("fits", plan.fits);
  box.classList.toggle("no-fit", !plan.fits);
  $("verdict-head").textContent = plan.fits
      ? `Fits: ${plural(plan.users, "user")} at ${ctx} tokens`
      : `Does not fit: ${plural(plan.users, "user")} at ${ctx} tokens`;
  const kv = plan.gpu_bytes_needed - plan.gpu_weights_bytes - plan.overhead_bytes;
  // The weights used, and why they differ from the published model's when they do.
  const regrouped = plan.kv_heads !== plan.model_kv_heads
      ? ` (with ${plan.grouping}'s smaller K/V projections)` : "";
  $("verdict-detail").textContent =
      `Needs ${formatBytes(plan.gpu_bytes_needed)} of ${formatBytes(plan.memory_bytes)}${gpus}: ` +
      `weights ${formatBytes(plan.gpu_weights_bytes)} (${plan.weights_dtype}` +
      `${plan.tp > 1 ? `, 1/${plan.tp} of ${formatBytes(plan.weights_bytes)}` : ""})${regrouped} + ` +
      `runtime overhead ${formatBytes(plan.overhead_bytes)} + KV ${formatBytes(kv)}.`;
  $("verdict-limits").textContent = plan.weights_fit
      ? `Most users at ${ctx} tokens: ${formatCount(plan.sessions_fit)}. ` +
        `Longest context for ${plural(plan.users, "user")}: ${formatCount(plan.max_ctx)} tokens.`
      : "The weights and the overhead alone take more than the memory: no KV fits.";
}

function showNotes(plan) {
  if (plan.tp > 1) {
    const replicas = plan.kv_head_replicas > 1
        ? ` Each KV head is replicated on ${plan.kv_head_replicas} GPUs: a KV head cannot be split, ` +
          `so past TP = ${plan.kv_heads} the KV cache per GPU stops shrinking.`
        : "";
    $("tp-note").textContent =
        `Tensor parallel over ${plan.tp} GPUs: each holds ${formatBytes(plan.gpu_weights_bytes)} of ` +
        `the weights and ${plural(plan.kv_heads_per_gpu, "KV head")} ` +
        `(${formatBytes(plan.gpu_kv_bytes_per_token)}/token).${replicas}`;
  } else {
    $("tp-note").textContent =
        `Tensor parallel: ${plural(plan.kv_heads, "KV head")} split evenly at TP ` +
        `${plan.tp_even_split.join(", ")}; beyond that, KV heads are replicated.`;
  }
  // Sliding-window layers (Gemma 3, Mistral) hold fewer tokens: say how the KV splits.
  const layers = plan.per_layer || [];
  const sliding = layers.filter((l) => l.attention === "sliding");
  if (sliding.length === 0) {
    $("sliding-note").textContent = "";
    return;
  }
  const full = layers.filter((l) => l.attention === "full");
  const sum = (ls) => ls.reduce((s, l) => s + l.kv_bytes_at_ctx, 0);
  $("sliding-note").textContent =
      `Sliding-window attention: ${sliding.length} of ${layers.length} layers keep ` +
      `min(${formatCount(plan.ctx)}, ${formatCount(plan.sliding_window)}) = ` +
      `${formatCount(sliding[0].tokens_held)} tokens (${formatBytes(sum(sliding))}), ` +
      `${full.length} full layers keep ${formatCount(plan.ctx)} (${formatBytes(sum(full))}): ` +
      `${formatBytes(plan.kv_bytes_at_ctx)} at context instead of ` +
      `${formatBytes(plan.kv_bytes_per_token * plan.ctx)}.`;
}

function show(plan) {
  state.plan = plan;
  if (state.valid.length === 0 || state.valid[state.valid.length - 1] !== plan.heads ||
      state.kvHeads === null)
    setSlider(plan);
  state.kvHeads = plan.kv_heads;
  const slider = $("kv-heads");
  slider.value = state.valid.indexOf(plan.kv_heads);
  slider.setAttribute("aria-valuetext", groupingText(plan.kv_heads, plan.heads));
  $("kv-heads-label").textContent =
      `${plan.kv_heads} · ${plan.grouping} · ${plural(plan.n_rep, "query head")} each`;
  $("model-title").textContent =
      `${plan.model}: ${plan.layers} layers, ${plan.heads} query heads, head_dim ${plan.head_dim}, ` +
      `KV ${plan.kv_dtype}`;
  const ctx = formatCount(plan.ctx);
  $("kv-per-token").textContent = `${formatBytes(plan.kv_bytes_per_token)}/token`;
  $("kv-per-token-bytes").textContent = `${formatCount(plan.kv_bytes_per_token)} bytes`;
  $("kv-at-ctx-label").textContent = `KV at ${ctx} tokens (one user)`;
  $("kv-at-ctx").textContent = formatBytes(plan.kv_bytes_at_ctx);
  $("compression").textContent = `${Number(plan.compression.toPrecision(4))}×`;
  $("total-label").textContent = `KV for ${plural(plan.users ?? 1, "user")}`;
  $("kv-total").textContent = formatBytes(plan.kv_bytes_total ?? plan.kv_bytes_at_ctx);
  if (plan.sessions_fit !== undefined) {
    $("sessions").textContent = formatCount(plan.sessions_fit);
    $("sessions-note").textContent = plan.weights_fit
        ? `of ${ctx} tokens${plan.tp > 1 ? " (per GPU group)" : ""}`
        : `the weights alone (${formatBytes(plan.gpu_weights_bytes)}) do not fit`;
  } else {
    $("sessions").textContent = "–";
    $("sessions-note").textContent = "pick a GPU or give the memory";
  }
  showVerdict(plan);
  showNotes(plan);
  $("compare-ctx").textContent = `at ${ctx} tokens`;
  $("mha-heads").textContent = plan.heads;
  $("mha-per-token").textContent = formatBytes(plan.mha_kv_bytes_per_token);
  $("mha-at-ctx").textContent = formatBytes(plan.mha_kv_bytes_at_ctx);
  $("current-name").textContent = plan.grouping;
  $("cur-heads").textContent = plan.kv_heads;
  $("cur-per-token").textContent = formatBytes(plan.kv_bytes_per_token);
  $("cur-at-ctx").textContent = formatBytes(plan.kv_bytes_at_ctx);
  drawDiagram(plan.heads, plan.kv_heads);
  drawSweep(plan);
}

// Query heads on top, KV heads below; each query head joins the KV head of its contiguous group.
function drawDiagram(heads, kvHeads) {
  const svg = $("diagram");
  const width = svg.clientWidth || 800, height = 150, pad = 16;
  const nRep = heads / kvHeads;
  const slot = (width - 2 * pad) / heads;
  const qw = Math.max(2, Math.min(22, slot - 2));
  const kvSlot = (width - 2 * pad) / kvHeads;
  const kw = Math.max(3, Math.min(60, kvSlot - 6));
  const hue = (g) => (g * 360 / kvHeads + 210) % 360;
  const ns = "http://www.w3.org/2000/svg";
  const el = (name, attrs) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("aria-label",
                   `${heads} query heads on ${plural(kvHeads, "KV head")}, ${nRep} per group`);
  const parts = [];
  for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / nRep);
    const qx = pad + slot * (h + 0.5), kx = pad + kvSlot * (g + 0.5);
    parts.push(el("line", { x1: qx, y1: 42, x2: kx, y2: 104, stroke: `hsl(${hue(g)} 55% 70%)`, "stroke-width": 1 }));
    parts.push(el("rect", { x: qx - qw / 2, y: 22, width: qw, height: 20, rx: 2, fill: `hsl(${hue(g)} 60% 55%)` }));
  }
  for (let g = 0; g < kvHeads; g++) {
    const kx = pad + kvSlot * (g + 0.5);
    parts.push(el("rect", { x: kx - kw / 2, y: 104, width: kw, height: 22, rx: 3, fill: `hsl(${hue(g)} 60% 40%)` }));
  }
  const label = (x, y, text) => { const t = el("text", { x, y, "font-size": 12, fill: "#5b6474" }); t.textContent = text; return t; };
  parts.push(label(pad, 14, `${heads} query heads`));
  parts.push(label(pad, 144, `${plural(kvHeads, "KV head")} (K and V cached once per group of ${nRep})`));
  svg.replaceChildren(...parts);
}

// One button per grouping (reachable by Tab, chosen by Enter or Space), bar length = KV at context.
function drawSweep(plan) {
  const max = Math.max(...plan.rows.map((r) => r.kv_bytes_at_ctx));
  $("sweep").replaceChildren(...plan.rows.map((r) => {
    const row = document.createElement("button");
    row.type = "button";
    row.className = "bar-row" + (r.kv_heads === plan.kv_heads ? " current" : "");
    row.setAttribute("aria-pressed", String(r.kv_heads === plan.kv_heads));
    row.setAttribute("aria-label",
                     `${groupingText(r.kv_heads, plan.heads)}: ${formatBytes(r.kv_bytes_at_ctx)}`);
    const name = document.createElement("span");
    name.textContent = `${r.grouping} (${r.kv_heads})`;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(100 * r.kv_bytes_at_ctx / max).toFixed(2)}%`;
    const track = document.createElement("span");
    track.className = "track";
    track.append(bar);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = formatBytes(r.kv_bytes_at_ctx);
    row.append(name, track, value);
    row.addEventListener("click", () => { state.kvHeads = r.kv_heads; update(); });
    return row;
  }));
}

function chooseModel() {
  const v = $("preset").value;
  $("config-box").hidden = v !== CONFIG;
  if (v === CONFIG) return;  // wait for "Use this config"
  state.model = { preset: v };
  state.kvHeads = null;
  update();
}

function useConfig() {
  let text = $("config-text").value;
  try {
    text = JSON.stringify(JSON.parse(text));  // compact, for the address bar
  } catch {
    // Sent as it is: the planner says what is wrong with it.
  }
  state.model = { config: text };
  state.kvHeads = null;
  update();
}

function chooseGpu() {
  const gpu = state.gpus.find((g) => g.gpu === $("gpu").value);
  $("memory").disabled = Boolean(gpu);
  $("memory").value = gpu ? formatBytes(gpu.memory_bytes).replace(" ", "") : "";
  update();
}

// Inputs from the address bar (a shared plan), before the first request.
function restoreFromUrl(presets) {
  const p = new URLSearchParams(location.search);
  for (const [id, name] of FIELDS) if (p.has(name)) $(id).value = p.get(name);
  const gpu = state.gpus.find((g) => g.gpu === $("gpu").value);
  if (gpu) {
    $("memory").disabled = true;
    $("memory").value = formatBytes(gpu.memory_bytes).replace(" ", "");
  }
  if (p.has("kv_heads")) state.kvHeads = Number(p.get("kv_heads"));
  if (p.has("config")) {
    $("preset").value = CONFIG;
    $("config-box").hidden = false;
    $("config-text").value = p.get("config");
    state.model = { config: p.get("config") };
    return true;
  }
  if (p.has("preset") && presets.some((x) => x.preset === p.get("preset"))) {
    $("preset").value = p.get("preset");
    state.model = { preset: p.get("preset") };
    return true;
  }
  return false;
}

async function init() {
  const [presets, gpus] = await Promise.all([
    fetch("/v1/presets").then((r) => r.json()),
    fetch("/v1/gpus").then((r) => r.json()),
  ]);
  state.gpus = gpus;
  for (const g of gpus) $("gpu").append(new Option(`${g.name} (${formatBytes(g.memory_bytes)})`, g.gpu));
  const select = $("preset");
  for (const p of presets)
    select.append(new Option(`${p.model} (${p.heads}/${p.kv_heads} heads)`, p.preset));
  select.append(new Option("Paste a config.json…", CONFIG));
  select.value = presets.some((p) => p.preset === "llama-2-7b") ? "llama-2-7b" : presets[0].preset;
  select.addEventListener("change", chooseModel);
  $("use-config").addEventListener("click", useConfig);
  $("kv-heads").addEventListener("input", () => {
    const d = state.valid[Number($("kv-heads").value)];
    if (d !== undefined && d !== state.kvHeads) { state.kvHeads = d; update(); }
  });
  $("gpu").addEventListener("change", chooseGpu);
  for (const id of ["kv-dtype", "weights-dtype"]) $(id).addEventListener("change", update);
  for (const id of ["ctx", "users", "memory", "tp", "overhead"]) $(id).addEventListener("input", update);
  // Only the diagram depends on the page's width: redraw it, do not ask the planner again.
  window.addEventListener("resize", () => {
    if (state.plan) drawDiagram(state.plan.heads, state.plan.kv_heads);
  });
  if (restoreFromUrl(presets)) update();
  else chooseModel();
}

init().catch((e) => showError(`cannot load the presets: ${e.message}`));

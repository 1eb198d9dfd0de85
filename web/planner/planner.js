// The KV planner page. It computes nothing itself: every number comes from GET /v1/plan (the
// gqa planner); this file only reads the inputs, asks, and draws the answer.
"use strict";

const $ = (id) => document.getElementById(id);
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const CONFIG = "__config__";

const state = {
  model: null,     // {preset} or {config}
  kvHeads: null,   // null: the model's own grouping
  valid: [],       // the divisors of the query heads, from the planner
  request: 0,      // the newest request; older answers are dropped
  plan: null,      // the last answer shown
};

// Bytes to text: MiB below 1 GiB ("0.125 MiB", "512 MiB"), else GiB; 4 significant digits.
function formatBytes(bytes) {
  const num = (x) => Number(x.toPrecision(4)).toLocaleString("en-US", { maximumFractionDigits: 6 });
  return bytes >= GiB ? `${num(bytes / GiB)} GiB` : `${num(bytes / MiB)} MiB`;
}
const formatCount = (n) => Number(n).toLocaleString("en-US");

function query() {
  const p = new URLSearchParams();
  if (state.model.preset) p.set("preset", state.model.preset);
  else p.set("config", state.model.config);
  if (state.kvHeads !== null) p.set("kv_heads", state.kvHeads);
  p.set("kv_dtype", $("kv-dtype").value);
  p.set("ctx", $("ctx").value.trim());
  p.set("users", $("users").value.trim());
  const memory = $("memory").value.trim();
  if (memory) p.set("memory", memory);
  if ($("weights-dtype").value) p.set("weights_dtype", $("weights-dtype").value);
  return p;
}

async function update() {
  if (!state.model) return;
  const id = ++state.request;
  let plan;
  try {
    const res = await fetch(`/v1/plan?${query()}`);
    const body = await res.json();
    if (id !== state.request) return;
    if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
    plan = body;
  } catch (e) {
    if (id !== state.request) return;
    $("error").textContent = e.message;
    $("error").hidden = false;
    document.body.dataset.state = "error";
    return;
  }
  $("error").hidden = true;
  show(plan);
  document.body.dataset.state = "ready";
}

function setSlider(plan) {
  state.valid = plan.valid_kv_heads.slice().sort((a, b) => a - b);
  const slider = $("kv-heads");
  slider.min = 1;
  slider.max = plan.heads;
  slider.value = plan.kv_heads;
  $("kv-ticks").replaceChildren(...state.valid.map((d) => new Option("", d)));
  $("scale-mha").textContent = `MHA = ${plan.heads}`;
}

function nearestValid(v) {
  return state.valid.reduce((best, d) => (Math.abs(d - v) < Math.abs(best - v) ? d : best));
}

function show(plan) {
  state.plan = plan;
  if (Number($("kv-heads").max) !== plan.heads || state.kvHeads === null) setSlider(plan);
  state.kvHeads = plan.kv_heads;
  $("kv-heads").value = plan.kv_heads;
  $("kv-heads-label").textContent =
      `${plan.kv_heads} · ${plan.grouping} · ${plan.n_rep} query head${plan.n_rep > 1 ? "s" : ""} each`;
  $("model-title").textContent =
      `${plan.model}: ${plan.layers} layers, ${plan.heads} query heads, head_dim ${plan.head_dim}, ` +
      `KV ${plan.kv_dtype}`;
  const ctx = formatCount(plan.ctx);
  $("kv-per-token").textContent = `${formatBytes(plan.kv_bytes_per_token)}/token`;
  $("kv-at-ctx-label").textContent = `KV at ${ctx} tokens (one user)`;
  $("kv-at-ctx").textContent = formatBytes(plan.kv_bytes_at_ctx);
  $("compression").textContent = `${Number(plan.compression.toPrecision(4))}×`;
  $("total-label").textContent = `KV for ${formatCount(plan.users ?? 1)} user${plan.users > 1 ? "s" : ""}`;
  $("kv-total").textContent = formatBytes(plan.kv_bytes_total ?? plan.kv_bytes_at_ctx);
  if (plan.sessions_fit !== undefined) {
    $("sessions").textContent = formatCount(plan.sessions_fit);
    $("sessions-note").textContent = plan.weights_fit
        ? `of ${ctx} tokens in ${formatBytes(plan.memory_bytes)} after ${formatBytes(plan.weights_bytes)} of weights`
        : `the weights alone (${formatBytes(plan.weights_bytes)}) do not fit`;
  } else {
    $("sessions").textContent = "–";
    $("sessions-note").textContent = "give a memory budget";
  }
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
  parts.push(label(pad, 144, `${kvHeads} KV head${kvHeads > 1 ? "s" : ""} (K and V cached once per group of ${nRep})`));
  svg.replaceChildren(...parts);
}

function drawSweep(plan) {
  const max = Math.max(...plan.rows.map((r) => r.kv_bytes_at_ctx));
  $("sweep").replaceChildren(...plan.rows.map((r) => {
    const row = document.createElement("div");
    row.className = "bar-row" + (r.kv_heads === plan.kv_heads ? " current" : "");
    row.title = `Use ${r.kv_heads} KV heads`;
    row.innerHTML = `<span>${r.grouping} (${r.kv_heads})</span>` +
        `<div class="bar" style="width:${(100 * r.kv_bytes_at_ctx / max).toFixed(2)}%"></div>` +
        `<span class="bar-value">${formatBytes(r.kv_bytes_at_ctx)}</span>`;
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

async function init() {
  const presets = await (await fetch("/v1/presets")).json();
  const select = $("preset");
  for (const p of presets)
    select.append(new Option(`${p.model} (${p.heads}/${p.kv_heads} heads)`, p.preset));
  select.append(new Option("Paste a config.json…", CONFIG));
  select.value = presets.some((p) => p.preset === "llama-2-7b") ? "llama-2-7b" : presets[0].preset;
  select.addEventListener("change", chooseModel);
  $("use-config").addEventListener("click", () => {
    state.model = { config: $("config-text").value };
    state.kvHeads = null;
    update();
  });
  $("kv-heads").addEventListener("input", () => {
    const d = nearestValid(Number($("kv-heads").value));  // snap to a divisor of H
    $("kv-heads").value = d;
    if (d !== state.kvHeads) { state.kvHeads = d; update(); }
  });
  for (const id of ["kv-dtype", "weights-dtype"]) $(id).addEventListener("change", update);
  for (const id of ["ctx", "users", "memory"]) $(id).addEventListener("input", update);
  // Only the diagram depends on the page's width: redraw it, do not ask the planner again.
  window.addEventListener("resize", () => {
    if (state.plan) drawDiagram(state.plan.heads, state.plan.kv_heads);
  });
  chooseModel();
}

init().catch((e) => { $("error").textContent = `cannot load presets: ${e.message}`; $("error").hidden = false; });

// End-to-end test of the planner page in Debian's headless Chromium, driven by playwright-core:
// `gqa kv --ui --port 0` serves the page; the test picks Llama-2-7B, moves the KV-heads slider
// by keyboard (one divisor of 32 per arrow key) and reads 0.125 MiB/token and 512 MiB at 4096
// tokens at GQA-8, picks a grouping from the sweep's buttons, asks whether 10 and then 1,000
// users fit on a GPU (the verdict), splits the model over GPUs, reopens the page from its
// address (the whole plan is in the URL), names a pasted config, explains Gemma 3's sliding
// layers, checks that a bad input shows the server's message in a focused alert, and saves a
// desktop and a phone screenshot.
//
// Usage: node planner_e2e.mjs GQA_BINARY SCREENSHOT.png   (the phone one: SCREENSHOT-phone.png)
import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const [gqa, screenshot] = process.argv.slice(2);
if (!gqa || !screenshot) {
  console.error("usage: node planner_e2e.mjs GQA_BINARY SCREENSHOT.png");
  process.exit(2);
}

function startPlanner() {
  const child = spawn(gqa, ["kv", "--ui", "--port", "0"], { stdio: ["ignore", "ignore", "pipe"] });
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`gqa kv --ui did not start: ${err}`)), 10000);
    child.stderr.on("data", (d) => {
      err += d;
      const m = err.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) { clearTimeout(timer); resolve({ child, port: Number(m[1]) }); }
    });
    child.on("exit", (code) => reject(new Error(`gqa kv --ui exited with ${code}: ${err}`)));
  });
}

// Polls until the element's text equals `want` (the page answers asynchronously).
async function expectText(page, selector, want) {
  const deadline = Date.now() + 10000;
  let got;
  while (Date.now() < deadline) {
    got = (await page.locator(selector).textContent())?.trim();
    if (got === want) return;
    await page.waitForTimeout(50);
  }
  assert.equal(got, want, `${selector}`);
}

async function expectContains(page, selector, want) {
  const deadline = Date.now() + 10000;
  let got;
  while (Date.now() < deadline) {
    got = (await page.locator(selector).textContent()) ?? "";
    if (got.includes(want)) return;
    await page.waitForTimeout(50);
  }
  assert.ok(got.includes(want), `${selector}: "${got}" lacks "${want}"`);
}

const { child, port } = await startPlanner();
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.selectOption("#preset", "llama-2-7b");
  await expectText(page, "#model-title", "Llama-2-7B: 32 layers, 32 query heads, head_dim 128, KV f16");
  // The model's own grouping first: MHA, 0.5 MiB/token.
  await expectText(page, "#kv-per-token", "0.5 MiB/token");
  await expectText(page, "#kv-per-token-bytes", "524,288 bytes");
  await expectText(page, "#kv-at-ctx", "2 GiB");

  // The slider steps through the divisors 1, 2, 4, 8, 16, 32: two left arrows from MHA = 8.
  const slider = page.locator("#kv-heads");
  await slider.focus();
  await page.keyboard.press("ArrowLeft");
  await expectText(page, "#current-name", "GQA-16");
  await page.keyboard.press("ArrowLeft");
  await expectText(page, "#kv-per-token", "0.125 MiB/token");
  assert.equal(await slider.getAttribute("aria-valuetext"), "GQA-8, 4 query heads per KV head");
  await expectText(page, "#kv-at-ctx-label", "KV at 4,096 tokens (one user)");
  await expectText(page, "#kv-at-ctx", "512 MiB");
  await expectText(page, "#compression", "4×");
  await expectText(page, "#mha-at-ctx", "2 GiB");
  assert.equal(await page.locator("#diagram rect").count(), 32 + 8, "32 query + 8 KV head boxes");
  await page.keyboard.press("Home");
  await expectText(page, "#current-name", "MQA");
  await expectText(page, "#kv-per-token", "0.01563 MiB/token");
  assert.equal(await slider.getAttribute("aria-valuetext"), "MQA, 32 query heads per KV head");

  // The sweep's bars are buttons: Tab reaches them, Enter picks one.
  const gqa4 = page.getByRole("button", { name: /^GQA-4, 8 query heads per KV head/ });
  await gqa4.focus();
  await page.keyboard.press("Enter");
  await expectText(page, "#current-name", "GQA-4");
  await page.getByRole("button", { name: /^GQA-8,/ }).click();
  await expectText(page, "#current-name", "GQA-8");

  // Does it fit? 10 users of 4,096 tokens on 80 GiB with 10% overhead: yes, and the planner's
  // own numbers are on the page.
  await page.locator("#memory").fill("80GiB");
  await page.locator("#users").fill("10");
  await expectText(page, "#kv-total", "5 GiB");
  const plan = await (await fetch(`http://127.0.0.1:${port}/v1/plan?preset=llama-2-7b&kv_heads=8` +
                                  `&users=10&memory=80GiB&overhead=10%25`)).json();
  await expectText(page, "#sessions", plan.sessions_fit.toLocaleString("en-US"));
  await expectText(page, "#verdict-head", "Fits: 10 users at 4,096 tokens");
  await expectContains(page, "#verdict-limits",
                       `Longest context for 10 users: ${plan.max_ctx.toLocaleString("en-US")} tokens`);
  // 1,000 users do not: the verdict turns red and so does the sessions card.
  await page.locator("#users").fill("1000");
  await expectText(page, "#verdict-head", "Does not fit: 1,000 users at 4,096 tokens");
  assert.ok(await page.locator("#verdict.no-fit").isVisible());
  assert.ok(await page.locator("#sessions-card.bad").isVisible());

  // Hardware: two H100s in tensor parallel, weights in int4.
  await page.locator("#users").fill("10");
  await page.selectOption("#gpu", "h100-80gb");
  await page.locator("#tp").fill("2");
  await page.selectOption("#weights-dtype", "int4-g128");
  await expectContains(page, "#tp-note", "Tensor parallel over 2 GPUs: each holds");
  await expectContains(page, "#verdict-detail", "on each of 2 GPUs");
  // The address bar is written when the answer arrives: wait for the int4 one.
  await expectContains(page, "#verdict-detail", "(int4-g128");
  const shown = await page.locator("#verdict-detail").textContent();

  // The address bar holds the plan: a new page from it shows the same.
  const shared = page.url();
  assert.match(shared, /preset=llama-2-7b/);
  assert.match(shared, /gpu=h100-80gb/);
  const again = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  await again.goto(shared);
  await expectText(again, "#current-name", "GQA-8");
  await expectText(again, "#verdict-detail", shown.trim());
  assert.equal(await again.locator("#tp").inputValue(), "2");
  assert.equal(await again.locator("#weights-dtype").inputValue(), "int4-g128");
  await again.close();

  // A pasted config is named by its _name_or_path.
  await page.selectOption("#preset", "__config__");
  await page.locator("#config-text").fill(JSON.stringify({
    _name_or_path: "me/tiny-llama", architectures: ["LlamaForCausalLM"], model_type: "llama",
    num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 2, hidden_size: 512,
    intermediate_size: 1024, vocab_size: 1000 }, null, 2));
  await page.locator("#use-config").click();
  await expectContains(page, "#model-title", "me/tiny-llama: 4 layers, 8 query heads");

  // Gemma 3's sliding layers: the page says how the KV splits.
  await page.selectOption("#preset", "gemma-3-4b");
  await expectContains(page, "#sliding-note", "Sliding-window attention: 29 of 34 layers keep");

  // A bad input: the server's 400 message in a focused alert, the stale results dimmed; fixing
  // it clears both.
  await page.locator("#ctx").fill("-5");
  await expectText(page, "#error", "ctx must be positive, got -5");
  assert.equal(await page.evaluate(() => document.activeElement.id), "error");
  assert.ok(await page.locator("#results.stale").count() === 1);
  await page.locator("#ctx").fill("4096");
  await page.waitForFunction(() => document.getElementById("error").hidden);
  assert.ok(await page.locator("#results.stale").count() === 0);

  await page.selectOption("#preset", "llama-3.1-8b");
  await page.selectOption("#weights-dtype", "bf16");
  await page.locator("#tp").fill("1");
  await page.locator("#users").fill("16");
  await expectContains(page, "#model-title", "Llama-3.1-8B");
  await expectContains(page, "#verdict-head", "16 users");
  await page.screenshot({ path: screenshot, fullPage: true });

  // A phone: one column, every control reachable.
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true,
                                        hasTouch: true });
  await phone.goto(page.url());
  await expectContains(phone, "#model-title", "Llama-3.1-8B");
  const box = await phone.locator("#kv-heads").boundingBox();
  assert.ok(box.height >= 24 && box.x >= 0 && box.x + box.width <= 390, "the slider fits a phone");
  await phone.screenshot({ path: screenshot.replace(/\.png$/, "-phone.png"), fullPage: true });
  console.log(`planner page: all checks passed; screenshots ${screenshot} and -phone`);
} finally {
  await browser.close();
  child.kill("SIGTERM");
}

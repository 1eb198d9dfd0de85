// End-to-end test of the planner page in Debian's headless Chromium, driven by playwright-core:
// `gqa kv --ui --port 0` serves the page; the test picks Llama-2-7B, moves the KV-heads slider
// to 8 and reads 0.125 MiB/token and 512 MiB at 4096 tokens, checks that the slider snaps to
// divisors of 32 and that a bad input shows the server's message, and saves a screenshot.
//
// Usage: node planner_e2e.mjs GQA_BINARY SCREENSHOT.png
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

const { child, port } = await startPlanner();
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.selectOption("#preset", "llama-2-7b");
  await expectText(page, "#model-title", "Llama-2-7B: 32 layers, 32 query heads, head_dim 128, KV f16");
  // The model's own grouping first: MHA, 0.5 MiB/token.
  await expectText(page, "#kv-per-token", "0.5 MiB/token");
  await expectText(page, "#kv-at-ctx", "2 GiB");

  await page.locator("#kv-heads").fill("8");
  await expectText(page, "#kv-per-token", "0.125 MiB/token");
  await expectText(page, "#kv-at-ctx-label", "KV at 4,096 tokens (one user)");
  await expectText(page, "#kv-at-ctx", "512 MiB");
  await expectText(page, "#compression", "4×");
  await expectText(page, "#current-name", "GQA-8");
  await expectText(page, "#mha-at-ctx", "2 GiB");
  assert.equal(await page.locator("#diagram rect").count(), 32 + 8, "32 query + 8 KV head boxes");

  // 7 is not a divisor of 32: the slider snaps to 8 (the nearest).
  await page.locator("#kv-heads").fill("7");
  await expectText(page, "#kv-heads-label", "8 · GQA-8 · 4 query heads each");
  await page.locator("#kv-heads").fill("1");
  await expectText(page, "#kv-per-token", "0.01563 MiB/token");
  await expectText(page, "#current-name", "MQA");

  // Sessions that fit in 80 GiB with 10 users, as the planner computes.
  await page.locator("#kv-heads").fill("8");
  await page.locator("#memory").fill("80GiB");
  await page.locator("#users").fill("10");
  await expectText(page, "#kv-total", "5 GiB");
  const plan = await (await fetch(
      `http://127.0.0.1:${port}/v1/plan?preset=llama-2-7b&kv_heads=8&users=10&memory=80GiB`)).json();
  await expectText(page, "#sessions", plan.sessions_fit.toLocaleString("en-US"));

  // A bad input: the server's 400 message is shown; fixing it clears the message.
  await page.locator("#ctx").fill("-5");
  await expectText(page, "#error", "ctx must be positive, got -5");
  await page.locator("#ctx").fill("4096");
  await page.waitForFunction(() => document.getElementById("error").hidden);
  await expectText(page, "#kv-per-token", "0.125 MiB/token");

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`planner page: all checks passed; screenshot ${screenshot}`);
} finally {
  await browser.close();
  child.kill("SIGTERM");
}

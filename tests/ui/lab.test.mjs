// The page against the mesh lab (real nodes, istiod and a sidecar per Pod), in
// headless Chromium: configured weights read from ctx1's API beside the split its own
// load generator measured, a verdict per service that follows a scenario, the rules in
// force, and the split over time showing a circuit breaker eject ctx2 and let it back.
// Run by tests/lab/mesh.test.sh with the lab up: PAGE_URL, MESH_LAB_DIR, KUBECONFIG set.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { collectScriptErrors, launchChromium } from "./browser.mjs";

const { PAGE_URL, ARTIFACTS = "artifacts" } = process.env;
assert.ok(PAGE_URL, "PAGE_URL must point at the lab's page port (tests/lab/mesh.test.sh sets it)");
const REPO = new URL("../../", import.meta.url).pathname;
const SPLITS = { "user-service": [70, 30], "movie-service": [30, 70], "booking-service": [50, 50] };

const lab = (...args) => execFileSync("bash", ["scripts/mesh-lab.sh", ...args], { cwd: REPO, encoding: "utf8" });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let browser;
let page;
const consoleErrors = [];

before(async () => {
  lab("reset");
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  collectScriptErrors(page, consoleErrors);
  await page.goto(PAGE_URL);
});

after(async () => {
  if (browser) await browser.close();
  lab("chaos", "user-service-ctx2", "{}");
  lab("reset");
});

/** Waits until the locator's text matches `pattern`; fails showing what it showed instead. */
async function showing(locator, pattern, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  let text = "";
  do {
    text = await locator.innerText().catch(() => "");
    if (pattern.test(text)) return text;
    await sleep(250);
  } while (Date.now() < deadline);
  assert.fail(`never showed ${pattern} within ${seconds} s; it shows:\n${text}`);
}

const card = (service) => page.locator(`.card[data-service="${service}"]`);

/** Empties the window, sends `count` requests from the page's own load generator, waits for them. */
async function burst(target, count, { headers = "", keepWindow = false } = {}) {
  await page.evaluate(() => { document.getElementById("load-status").textContent = ""; });
  if (!keepWindow) await page.click("#reset-traffic");
  await page.fill("#load-form textarea[name=headers]", headers);
  await page.selectOption("#load-form select[name=target]", target);
  await page.fill("#load-form input[name=count]", String(count));
  await page.fill("#load-form input[name=rate]", "0");
  await page.click("#send");
  await page.locator("#load-status").filter({ hasText: new RegExp(`^${count}/${count} .* s$`) }).waitFor({ timeout: 120_000 });
  await page.waitForTimeout(2500); // the next refresh of the split panel
}

/**
 * The verdict of each service after a burst; a 95% band misses a correct split once in
 * twenty, so a service outside it is measured again (three misses in a row fail).
 */
async function verdicts(target, count, services) {
  const text = {};
  for (let attempt = 1; attempt <= 3; attempt++) {
    await burst(target, count);
    for (const service of services) text[service] = await card(service).locator(".verdict").innerText();
    if (services.every((s) => /within band/.test(text[s]))) break;
  }
  return text;
}

test("each card shows the weights read from ctx1's API, the observed split and a verdict within band", async () => {
  for (const [service, [ctx1, ctx2]] of Object.entries(SPLITS)) {
    await card(service).locator(".bar").first().filter({ hasText: `ctx1 ${ctx1}%` }).filter({ hasText: `ctx2 ${ctx2}%` }).waitFor();
    assert.match(await card(service).innerText(), /canary: x-canary: true → ctx2 100%/);
  }
  assert.match(await page.locator("#mesh .origin").innerText(), /from the Kubernetes API of ctx1/);
  const text = await verdicts("all", 900, Object.keys(SPLITS));
  for (const [service, verdict] of Object.entries(text)) {
    assert.match(verdict, /✔ 허용 범위 안 within band \(n = \d{3}, 95%\)/, `${service}: ${verdict}`);
    const observed = await card(service).locator(".bar").nth(1).innerText();
    assert.match(observed, /ctx1 \d+%[\s\S]*ctx2 \d+%/, `${service} observed both clusters: ${observed}`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "page-lab.png"), fullPage: true });
});

test("the rules panel lists every VirtualService and DestinationRule in force", async () => {
  const names = execFileSync("kubectl", ["get", "virtualservices,destinationrules", "-n", "theater-msa", "-o",
    "jsonpath={range .items[*]}{.kind} {.metadata.name}{\"\\n\"}{end}"], { encoding: "utf8" }).trim().split("\n");
  assert.ok(names.length >= 6, names.join(", "));
  const inForce = await page.locator("#mesh .in-force").innerText();
  for (const name of names) assert.ok(inForce.includes(name), `${name} missing from: ${inForce}`);
});

test("the clusters panel lists ctx1's pods from its API and ctx2's as seen answering", async () => {
  const ctx1 = page.locator('#clusters .card[data-cluster="ctx1"]');
  await ctx1.filter({ hasText: /api-gateway-[\s\S]*Running ✔/ }).waitFor();
  assert.match(await page.locator('#clusters .card[data-cluster="ctx2"]').innerText(), /user-service-[\s\S]*user-service · \d+×/);
});

test("a scenario changes the configured bar, the verdict, and marks the chart", async () => {
  const user = card("user-service");
  lab("apply", "canary-shift-90-10");
  await showing(user.locator(".bar").first(), /ctx1 90%/);
  // The window still holds the 70/30 answers: now outside the configured 90/10.
  await showing(user, /outside band/, 10);
  const text = await verdicts("/users/", 300, ["user-service"]);
  assert.match(text["user-service"], /within band[\s\S]*ctx1: (8[5-9]|9\d)%/, text["user-service"]);
  const marked = await page.locator('svg.history[data-service="user-service"] .rule-change').evaluateAll((lines) =>
    lines.filter((line) => line.textContent.includes("→ ctx1 90 / ctx2 10")).length);
  assert.ok(marked > 0, "the chart marks the change to 90/10");
  lab("reset");
  await user.locator(".bar").first().filter({ hasText: "ctx1 70%" }).waitFor({ timeout: 20_000 });
});

test("ab-test: the card compares variant A (ctx1) and variant B (ctx2) side by side", async () => {
  lab("apply", "ab-test");
  lab("chaos", "user-service-ctx2", '{"delayMs":150}');
  await showing(card("user-service"), /x-user-group: b/);
  const row = (cluster) => card("user-service").locator(`table.stats tr[data-cluster="${cluster}"]`);
  // The page shows the rule once the API has it; the sidecars take it a moment later:
  // group B's requests all reach ctx2 before the measured bursts (five tries at most).
  for (let tries = 1; ; tries++) {
    await burst("/users/", 10, { headers: "x-user-group: b" });
    if (await showing(row("ctx2"), /^ctx2\s+10\s/, 5).then(() => true, () => false)) break;
    assert.ok(tries < 5, "group B's requests still reach ctx1 after five bursts");
  }
  await burst("/users/", 60);
  await burst("/users/", 60, { headers: "x-user-group: b", keepWindow: true });
  // The split panel counts on its own refresh: wait for the rows, then read them.
  const a = await showing(row("ctx1"), /^ctx1\s+6\d\s+0\.0%/);
  const b = await showing(row("ctx2"), /^ctx2\s+60\s+0\.0%/);
  const p50 = (text) => Number(text.split(/\s+/)[3]);
  assert.ok(p50(b) >= 150 && p50(a) < 100, `variant B is the slow one: A ${a} · B ${b}`);
  console.log(`# ab-test on the page: A ${a.replace(/\s+/g, " ")} · B ${b.replace(/\s+/g, " ")}`);
  lab("chaos", "user-service-ctx2", "{}");
  await page.fill("#load-form textarea[name=headers]", "");
  lab("reset");
});

/** The chart's columns of user-service: [{at, total, failed, ctx1, ctx2}], oldest first. */
const columns = () => page.locator('svg.history[data-service="user-service"] g.bin').evaluateAll((groups) =>
  groups.map((g) => ({ at: Number(g.dataset.at), total: Number(g.dataset.total), failed: Number(g.dataset.failed),
    ctx1: Number(g.dataset.ctx1 || 0), ctx2: Number(g.dataset.ctx2 || 0) })));

/** Waits until a full column after `since` (Unix seconds) satisfies `wanted`; returns it. */
async function columnAfter(since, wanted, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const now = Date.now() / 1000;
    // Only columns already over (the newest one is still filling).
    const found = (await columns()).find((c) => c.at >= since && c.at + 5 <= now && c.total > 0 && wanted(c));
    if (found) return found;
    await sleep(1000);
  }
  return null;
}

test("the chart shows the circuit breaker eject ctx2's user-service and let it back", { timeout: 240_000 }, async () => {
  lab("apply", "circuit-breaker");
  await sleep(2000);
  // A steady 20 requests a second from the page for up to 200 s, while chaos comes and goes.
  await page.selectOption("#load-form select[name=target]", "/users/");
  await page.fill("#load-form input[name=count]", "4000");
  await page.fill("#load-form input[name=rate]", "20");
  await page.click("#send");
  const start = Date.now() / 1000;
  assert.ok(await columnAfter(start, (c) => c.ctx2 > 0, 20), "both clusters answer before the chaos");

  lab("chaos", "user-service-ctx2", '{"errorRate":1}');
  const broken = Date.now() / 1000;
  const ejected = await columnAfter(broken + 5, (c) => c.ctx2 === 0 && c.ctx1 > 0, 40);
  assert.ok(ejected, `ctx2's share falls to 0 once Envoy ejects it: ${JSON.stringify((await columns()).slice(-8))}`);
  const failing = (await columns()).filter((c) => c.at >= broken - 5 && c.failed > 0);
  assert.ok(failing.length > 0, "the 5xx answers before the ejection are marked");

  lab("chaos", "user-service-ctx2", '{"errorRate":0}');
  const mended = Date.now() / 1000;
  const back = await columnAfter(mended, (c) => c.ctx2 > 0 && c.failed === 0, 100);
  assert.ok(back, `ctx2 comes back after the ejection time: ${JSON.stringify((await columns()).slice(-8))}`);
  console.log(`# ejected within ${Math.round(ejected.at + 5 - broken)} s of the chaos; back ${Math.round(back.at - mended)}–${Math.round(back.at + 5 - mended)} s after it ended`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.locator("#history").screenshot({ path: join(ARTIFACTS, "history-lab.png") });
  await page.reload(); // stops the load generator
});

test("no script errors were logged", () => {
  assert.deepEqual(consoleErrors, []);
});

// The gateway's page in a real headless Chromium: it loads the seeded data, the forms
// create and report errors, a burst fills the split panel, a booking shows its route.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collectScriptErrors, launchChromium } from "./browser.mjs";

const BASE_URL = process.env.BASE_URL;
const { RULES_URL, RULES_FILE } = process.env;
const ARTIFACTS = process.env.ARTIFACTS || join(tmpdir(), "theater-artifacts");
assert.ok(BASE_URL, "BASE_URL must point at a running gateway (tests/ui/run.sh sets it)");

let browser;
let page;
const consoleErrors = [];

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  collectScriptErrors(page, consoleErrors);
  await page.goto(BASE_URL);
});

after(async () => {
  if (page) await page.screenshot({ path: join(ARTIFACTS, "page.png"), fullPage: true });
  if (browser) await browser.close();
});

test("the page loads with the three seeded users and movies", async () => {
  await page.waitForFunction(() => document.querySelectorAll("#users li").length >= 3);
  const users = await page.locator("#users").innerText();
  for (const name of ["김민준", "이서연", "박지호"]) assert.match(users, new RegExp(name));
  await page.waitForFunction(() => document.querySelectorAll("#movies li").length >= 3);
  assert.match(await page.locator("#movies").innerText(), /기생충/);
  assert.match(await page.locator("#whoami").innerText(), /gateway local/);
});

test("creating a user through the form shows it in the list", async () => {
  await page.fill("#user-form input[name=name]", "테스트 사용자");
  await page.fill("#user-form input[name=email]", "page-test@example.com");
  await page.click("#user-form button");
  await page.waitForFunction(() => document.querySelector("#users").innerText.includes("테스트 사용자"));
  assert.match(await page.locator("#users").innerText(), /page-test@example\.com/);
});

test("a rejected form shows the problem's field and message", async () => {
  await page.fill("#user-form input[name=name]", "Someone");
  await page.fill("#user-form input[name=email]", "not-an-email");
  await page.click("#user-form button");
  const error = page.locator('.error[data-for="user-form"]');
  await error.filter({ hasText: "email" }).waitFor();
  assert.match(await error.innerText(), /email: must contain '@'/);
});

test("a burst of requests fills the split panel with what answered", async () => {
  await page.click("#reset-traffic");
  await page.fill("#load-form input[name=count]", "30");
  await page.selectOption("#load-form select[name=target]", "/users/");
  await page.click("#send");
  await page.locator("#load-status").filter({ hasText: "30/30" }).waitFor();
  const card = page.locator('[data-service="user-service"]');
  await card.locator(".sample").filter({ hasText: "n = 30" }).waitFor();
  assert.equal(await card.locator(".dots span").count(), 30);
  assert.match(await card.locator(".bar").nth(1).innerText(), /local 100%/);
  assert.match(await card.locator('table.stats tr[data-cluster="local"]').innerText(), /^local\s+30\s+0\.0%\s+[\d.]+ ms\s+[\d.]+ ms$/);
});

test("the split over time charts the burst per second and cluster", async () => {
  const columns = page.locator('svg.history[data-service="user-service"] g.bin[data-local]');
  await page.waitForFunction(() => document.querySelectorAll('svg.history[data-service="user-service"] g.bin[data-local]').length > 0);
  const counted = await columns.evaluateAll((groups) => groups.reduce((sum, g) => sum + Number(g.dataset.local), 0));
  assert.ok(counted >= 30, `the chart counts the 30 answers (and earlier ones): ${counted}`);
  const chart = page.locator('svg.history[data-service="user-service"]');
  assert.match(await chart.evaluate((svg) => svg.textContent), /지금 now.*ctx1.*ctx2.*local/s, "axis and legend on the chart");
});

test("a booking shows its route across the services and the headers it carried", async () => {
  await page.selectOption("#booking-user", "2");
  await page.selectOption("#booking-movie", "3");
  await page.fill("#booking-form input[name=seats]", "2");
  await page.click("#booking-form button");
  const result = page.locator("#booking-result");
  await result.locator("table").waitFor();
  const text = await result.innerText();
  assert.match(text, /예매 #\d+/);
  assert.equal(await result.locator("tr").count(), 4, "a header row and three steps");
  assert.match(text, /traceparent: 00-/);
  assert.match(text, /x-request-id/);
  await page.waitForFunction(() => document.querySelector("#movies").innerText.includes("98/100"));
});

test("without a cluster the page says so in one friendly line and invents no weights", async () => {
  await page.locator("#mesh").filter({ hasText: "running without a cluster" }).waitFor();
  assert.match(await page.locator("#mesh").innerText(), /scripts\/mesh-lab\.sh up/);
  assert.doesNotMatch(await page.locator("#mesh").innerText(), /kubeconfig|undefined/);
  await page.locator("#clusters-note").filter({ hasText: "running without a cluster" }).waitFor();
  const card = page.locator('.card[data-service="user-service"]');
  assert.equal((await card.locator(".bar").first().innerText()).trim(), "", "no configured weights without rules");
  assert.match(await card.innerText(), /클러스터 없음 no cluster/);
});

/** A kind: List of one VirtualService and its DestinationRule, as `kubectl get vs,dr -o json` gives. */
function rulesList(ctx1, ctx2) {
  const host = "user-service";
  return { apiVersion: "v1", kind: "List", items: [
    { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "user-service-vs", namespace: "theater-msa" },
      spec: { hosts: [host], http: [
        { match: [{ headers: { "x-canary": { exact: "true" } } }], route: [{ destination: { host, subset: "ctx2" } }] },
        { route: [{ destination: { host, subset: "ctx1" }, weight: ctx1 }, { destination: { host, subset: "ctx2" }, weight: ctx2 }],
          retries: { attempts: 3, perTryTimeout: "2s" }, timeout: "5s" }] } },
    { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "user-service-dr", namespace: "theater-msa" },
      spec: { host, subsets: [{ name: "ctx1", labels: { cluster: "ctx1" } }, { name: "ctx2", labels: { cluster: "ctx2" } }] } },
  ] };
}

test("rules from a file (--mesh-rules-file) show as configured weights, with their origin and a verdict", async () => {
  assert.ok(RULES_URL && RULES_FILE, "tests/ui/run.sh starts a second app reading RULES_FILE");
  writeFileSync(RULES_FILE, JSON.stringify(rulesList(70, 30)));
  const other = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  collectScriptErrors(other, consoleErrors);
  await other.goto(RULES_URL);
  const card = other.locator('.card[data-service="user-service"]');
  await card.locator(".bar").first().filter({ hasText: "ctx1 70%" }).waitFor();
  assert.match(await card.innerText(), /x-canary: true → ctx2 100%/);
  const rules = other.locator("#mesh");
  assert.match(await rules.locator(".origin").innerText(), /from the rules file .*rules\.json/);
  assert.match(await rules.locator(".in-force").innerText(), /DestinationRule user-service-dr · VirtualService user-service-vs/);
  assert.match(await rules.innerText(), /retries \{"attempts":3,"perTryTimeout":"2s"\} · timeout 5s/);
  await other.fill("#load-form input[name=count]", "40");
  await other.click("#send");
  await other.locator("#load-status").filter({ hasText: "40/40" }).waitFor();
  const verdict = card.locator(".verdict");
  await verdict.waitFor();
  assert.match(await verdict.innerText(), /✘ 범위 밖 outside band \(n = 4\d, 95%\)[\s\S]*✘ ctx1: 0%/, "local answers are not the configured ctx1/ctx2");
  writeFileSync(RULES_FILE, JSON.stringify(rulesList(90, 10)));
  await card.locator(".bar").first().filter({ hasText: "ctx1 90%" }).waitFor({ timeout: 15_000 });
  const chart = other.locator('svg.history[data-service="user-service"]');
  await chart.locator(".rule-change").waitFor({ state: "attached", timeout: 10_000 });
  assert.match(await chart.evaluate((svg) => svg.textContent), /규칙 변경 → ctx1 90 \/ ctx2 10/);
  await other.close();
});

test("no script errors were logged", () => {
  assert.deepEqual(consoleErrors, []);
});

// The gateway's page in a real headless Chromium: it loads the seeded data, the forms
// create and report errors, a burst fills the split panel, a booking shows its route.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BASE_URL = process.env.BASE_URL;
const ARTIFACTS = process.env.ARTIFACTS || join(tmpdir(), "theater-artifacts");
assert.ok(BASE_URL, "BASE_URL must point at a running gateway (tests/ui/run.sh sets it)");

let browser;
let page;
const consoleErrors = [];

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    // Playwright starts Chromium with a fresh temporary profile of its own.
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  // Error statuses are part of the tests (a rejected form answers 400); script errors are not.
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) consoleErrors.push(msg.text());
  });
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
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

test("the page reports that Istio rules are unavailable instead of inventing them", async () => {
  await page.locator("#mesh").filter({ hasText: "unavailable" }).waitFor();
  const configured = await page.locator('[data-service="user-service"] .bar').first().innerText();
  assert.equal(configured.trim(), "", "no configured weights without rules");
});

test("no script errors were logged", () => {
  assert.deepEqual(consoleErrors, []);
});

// Opens the page in headless Chromium and waits until a panel's text matches a
// pattern: how tests outside tests/ui (e.g. against real API servers) check what the
// page shows. Usage: node tests/ui/panel.mjs URL SELECTOR REGEX [SECONDS]
// Exits 0 when it matches, 1 with the panel's text when it does not, or when the page
// logs a script error.
import { launchChromium } from "./browser.mjs";

const [url, selector, pattern, seconds = "15"] = process.argv.slice(2);
if (!url || !selector || !pattern) {
  console.error("usage: node tests/ui/panel.mjs URL SELECTOR REGEX [SECONDS]");
  process.exit(64);
}
const wanted = new RegExp(pattern);
const browser = await launchChromium();
const errors = [];
let text = "";
try {
  const page = await browser.newPage();
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto(url);
  const deadline = Date.now() + Number(seconds) * 1000;
  do {
    text = (await page.locator(selector).innerText().catch(() => "")) || "";
    if (wanted.test(text)) break;
    await page.waitForTimeout(250);
  } while (Date.now() < deadline);
} finally {
  await browser.close();
}
if (errors.length) {
  console.error(`script errors on the page:\n${errors.join("\n")}`);
  process.exit(1);
}
if (!wanted.test(text)) {
  console.error(`${selector} never matched /${pattern}/ within ${seconds} s; it shows:\n${text}`);
  process.exit(1);
}
console.log(`${selector} matches /${pattern}/`);

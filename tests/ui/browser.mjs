// The headless Chromium every page test drives (Debian's package, through
// playwright-core), and the one rule for which console messages count as errors.
import { chromium } from "playwright-core";

/** Starts Chromium quietly; Playwright gives it a fresh temporary profile of its own. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * Pushes the page's script errors onto `errors`. Error statuses are part of the tests
 * (a rejected form answers 400, which Chromium logs as a failed resource); script
 * errors are not.
 */
export function collectScriptErrors(page, errors) {
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(String(err)));
}

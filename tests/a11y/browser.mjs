// The system Chromium (Debian's; no browser download), launched headless and offline-friendly, for the
// accessibility audit (axe.mjs) and the officer's journey in JupyterLab (lab.mjs).
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

export async function launch() {
  const executablePath = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
    .find((p) => existsSync(p));
  return chromium.launch({
    executablePath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

// Usage: node axe.mjs PAGE.html [SCREENSHOT.png|-] [WIDTH] [ID]
// Opens the page in the system Chromium at WIDTH CSS pixels (default 1280) with every network request
// blocked, runs axe-core with the WCAG 2.2 A/AA and best-practice rules, prints the violations and how
// far the page scrolls sideways (overflow, px) as JSON and exits 1 if there are any violations.
import { launch } from "./browser.mjs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
// ID: the screenshot shows the element with that id at the top of the window (for the docs)
const [page, shotArg, widthArg, anchor] = process.argv.slice(2);
const shot = shotArg && shotArg !== "-" ? shotArg : undefined;
const width = Number(widthArg || 1280);
const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  await context.route(/^https?:/, (route) => route.abort());
  const tab = await context.newPage();
  await tab.goto(pathToFileURL(page).href);
  await tab.addScriptTag({ path: axePath });
  const result = await tab.evaluate(() => axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
  }));
  if (anchor) await tab.evaluate((id) => document.getElementById(id).scrollIntoView(), anchor);
  if (shot) await tab.screenshot({ path: shot, fullPage: false });
  const violations = result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  }));
  const overflow = await tab.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  console.log(JSON.stringify({ passes: result.passes.length, violations, overflow }, null, 1));
  process.exitCode = violations.length ? 1 : 0;
} finally {
  await browser.close();
}

// Usage: node lab.mjs URL TEXT SHOTS_DIR
// The officer's journey in JupyterLab, in the system Chromium: open the executed appendix (URL, with
// its token), read the instructions, double-click the Reviews commentary cell, type TEXT over the
// placeholder and save with Ctrl+S. Screenshots for docs/commentary.md go into SHOTS_DIR.
import { launch } from "./browser.mjs";

const [url, text, shots] = process.argv.slice(2);
const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const tab = await context.newPage();
  tab.setDefaultTimeout(60000);
  await tab.goto(url);
  await tab.locator(".jp-Notebook .jp-MarkdownCell").first().waitFor();
  await tab.locator(".jp-RenderedMarkdown", { hasText: "How to write your commentary here" }).first().waitFor();
  const news = tab.getByRole("button", { name: "No", exact: true });  // JupyterLab's news prompt
  if (await news.isVisible().catch(() => false)) await news.click();
  await tab.screenshot({ path: `${shots}/commentary-instructions.png` });
  // the Reviews section's commentary cell: the fifth placeholder (summary, trends, population, IRO service)
  const cell = tab.locator(".jp-MarkdownCell", { hasText: "manager's commentary on this section" }).nth(4);
  await cell.scrollIntoViewIfNeeded();
  await cell.locator(".jp-RenderedMarkdown").dblclick();
  const editor = cell.locator(".cm-content");
  await editor.waitFor();
  await editor.press("Control+a");
  await editor.pressSequentially(text, { delay: 5 });
  await tab.screenshot({ path: `${shots}/commentary-typing.png` });
  await tab.keyboard.press("Shift+Enter");  // render the cell (the next, a locked code cell, is only selected)
  await tab.keyboard.press("Control+s");
  await tab.locator(".jp-mod-dirty").waitFor({ state: "detached" });
  await cell.scrollIntoViewIfNeeded();
  await tab.screenshot({ path: `${shots}/commentary-saved.png` });
  console.log("saved");
} finally {
  await browser.close();
}

/**
 * The report in a real browser: headless Debian chromium through playwright-core
 * opens report.html from a real pipeline run via file:// and checks that every plot
 * rendered (SVG charts with marks, heatmap images decoded), that nothing was fetched
 * from the network and the console stayed clean; a full-page screenshot is saved
 * as test/out/report.png. Skipped with a message when /usr/bin/chromium is missing and CI
 * is not set; in CI it must run (.ci/run calls scripts/install-browser.sh).
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, colink, tempDir } from "./helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && !process.env.CI)
  console.warn(`browser.test.ts: skipped: ${CHROMIUM} not found (install it with scripts/install-browser.sh; in CI this test must run)`);

const CHARTS = ["sparsity", "frequency", "heatmap-before", "heatmap-after", "runs", "reads-layer", "io-layer", "hit-rate"];

describe.skipIf(!haveBrowser && !process.env.CI)("report.html in headless chromium", () => {
  let out: string;
  let report: string;
  beforeAll(() => {
    out = tempDir("colink-browser-");
    // a small run: enough tokens for every plot, quick on 2 cores
    const r = colink(["pipeline", "--out", out, "--name", "browser", "--max-tokens", "2048", "--quiet"], { timeoutMs: 600_000 });
    if (r.status !== 0) throw new Error(`colink pipeline failed (${r.status}): ${r.stderr}`);
    report = path.join(out, "browser", "report.html");
  }, 600_000);
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it("renders every plot with marks, loads nothing from the network, logs no errors", async () => {
    const profile = mkdtempSync(path.join(tmpdir(), "colink-chromium-"));
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await ctx.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      page.on("request", (r) => {
        if (!/^(file|data):/.test(r.url())) requests.push(r.url());
      });
      await page.goto(pathToFileURL(report).href, { waitUntil: "load" });

      for (const id of CHARTS) {
        const chart = page.locator(`svg[data-chart="${id}"]`);
        await expect(chart.count(), `chart ${id}`).resolves.toBe(1);
        const box = await chart.boundingBox();
        expect(box?.width, `chart ${id} width`).toBeGreaterThan(100);
        expect(await chart.locator(".mark").count(), `marks in ${id}`).toBeGreaterThan(0);
        // axis labels with units are part of every chart
        expect(await chart.locator("text.label").count(), `axis labels in ${id}`).toBeGreaterThanOrEqual(2);
      }
      // bars drawn with height: the sparsity chart has one bar per layer, all > 0
      const heights = await page.locator('svg[data-chart="sparsity"] rect.mark').evaluateAll((els) => els.map((e) => Number(e.getAttribute("height"))));
      expect(heights.length).toBeGreaterThan(0);
      for (const h of heights) expect(h).toBeGreaterThan(0);
      // the heatmaps' embedded PNGs decode in the browser
      // (a string, evaluated in the page: the test's tsconfig has no DOM types)
      const decoded = (await page.evaluate(`Promise.all(
        Array.from(document.querySelectorAll("svg image"), (el) => new Promise((resolve) => {
          const img = new Image();
          img.onload = () => resolve(img.naturalWidth);
          img.onerror = () => resolve(0);
          img.src = el.getAttribute("href");
        })))`)) as number[];
      expect(decoded).toHaveLength(2);
      for (const w of decoded) expect(w).toBeGreaterThan(0);
      expect(await page.locator('table[data-table="summary"] tbody tr').count()).toBe(4);

      // kept after the run (test/out/ is git-ignored) so a person can look at it
      const shot = path.join(ROOT, "test", "out", "report.png");
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 120_000);
});

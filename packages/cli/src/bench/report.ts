/**
 * How long the report takes at Llama-2-7B shape (32 layers x 11008 neurons): one
 * synthetic trace (the profiler's `trace synth`), identity and frequency placements
 * (the placer), then computeReportData (one pass over the trace, every held-out
 * token planned for every method and layer) and renderReport. Prints wall times and
 * peak RSS. Run by hand, never as a test:
 *
 *   npx tsc -b && node packages/cli/dist/bench/report.js [tokens=2048] [methods=2]
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DEVICE_PROFILES, readPlacement } from "@colink/core";
import { type Method, placeTraces } from "@colink/placer";
import { synthesizeTrace } from "@colink/profiler";
import { computeReportData } from "../pipeline/report-data.js";
import { renderReport } from "../pipeline/report-html.js";

const tokens = Number(process.argv[2] ?? 2048);
const nMethods = Number(process.argv[3] ?? 2);
const methods = (["identity", "frequency", "neuralink", "colink"] as Method[]).slice(0, nMethods);
const dir = mkdtempSync(path.join(tmpdir(), "colink-report-bench-"));
const trace = path.join(dir, "t.arrow");
const bundleBytes = 3 * 4096 * 2; // Llama-2-7B, f16
try {
  let t = performance.now();
  await synthesizeTrace({ shape: "llama2-7b", tokens, seed: 1, out: trace, quiet: true });
  console.log(`synth ${tokens} tokens: ${((performance.now() - t) / 1000).toFixed(1)} s, ${(statSync(trace).size / 2 ** 20).toFixed(1)} MiB`);
  const placements: Record<string, Awaited<ReturnType<typeof readPlacement>>> = {};
  for (const m of methods) {
    t = performance.now();
    const out = path.join(dir, `${m}.json`);
    await placeTraces({ traces: [trace], method: m, out, cacheFraction: 0.1, device: "ufs40", bundleBytes, seed: 1, quiet: true });
    placements[m] = await readPlacement(out);
    console.log(`place ${m}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  t = performance.now();
  const data = await computeReportData({
    trace,
    placements,
    chosen: methods[methods.length - 1],
    device: DEVICE_PROFILES.ufs40,
    bundleBytes,
    cacheFraction: 0.1,
    dtype: "f16",
    model: "synthetic llama2-7b",
  });
  const tData = (performance.now() - t) / 1000;
  t = performance.now();
  const html = renderReport(data);
  const tHtml = (performance.now() - t) / 1000;
  console.log(
    `report data (${methods.length} methods, ${data.tokens.heldout} held-out tokens x ${data.layers} layers): ${tData.toFixed(1)} s; html ${tHtml.toFixed(2)} s, ${(html.length / 1024).toFixed(0)} KiB; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

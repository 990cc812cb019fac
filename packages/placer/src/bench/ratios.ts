/**
 * One line per trace set from placement.js's --json files: colink against neuralink
 * with its better cache, per bundle size and cache fraction, held-out tokens
 * (docs/benchmarks.md#placer, "Unseen generator settings"). Run by hand:
 *
 *   node packages/placer/dist/bench/ratios.js out/bench-generality/*.json
 *
 * A ratio above 1 means colink's held-out I/O per token is lower than neuralink's.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { table } from "@colink/core";

interface Row {
  bundleBytes: number;
  method: string;
  fraction: number;
  ms: number;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write("usage: ratios.js <placement.js --json output>...\n");
  process.exit(1);
}
const keys = new Map<string, { bundleBytes: number; fraction: number }>();
const sets = files.map((file) => {
  const rows = (JSON.parse(readFileSync(file, "utf8")) as { rows: Row[] }).rows;
  const ratio = new Map<string, number>();
  for (const r of rows) {
    if (r.method !== "colink") continue;
    const nl = rows.filter((x) => x.method === "neuralink" && x.bundleBytes === r.bundleBytes && x.fraction === r.fraction);
    if (nl.length === 0) continue;
    const key = `${r.bundleBytes} B, F = ${r.fraction}`;
    keys.set(key, { bundleBytes: r.bundleBytes, fraction: r.fraction });
    ratio.set(key, Math.min(...nl.map((x) => x.ms)) / r.ms);
  }
  return { name: path.basename(file, ".json"), ratio };
});
const cols = [...keys.entries()].sort((x, y) => x[1].fraction - y[1].fraction || y[1].bundleBytes - x[1].bundleBytes).map(([k]) => k);
const rows = sets.map((s) => [s.name, ...cols.map((k) => (s.ratio.has(k) ? `${(s.ratio.get(k) as number).toFixed(3)}x` : "-"))]);
const min = cols.map((k) => Math.min(...sets.map((s) => s.ratio.get(k) ?? Number.POSITIVE_INFINITY)));
rows.push(["(lowest)", ...min.map((m) => (Number.isFinite(m) ? `${m.toFixed(3)}x` : "-"))]);
process.stdout.write(`${table(["trace set", ...cols], rows)}\n`);

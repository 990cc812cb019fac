/**
 * The placer benchmark (docs/benchmarks.md#placer): fits every method on the fit
 * tokens of a trace and evaluates it on the held-out tokens, for each bundle size
 * and cache fraction, and prints the table. Run by hand, never in tests:
 *
 *   node packages/placer/dist/bench/placement.js --traces out/bench-llama2-7b.arrow \
 *     --bundle-bytes 24576,6912 --fractions 0,0.05,0.1,0.2 [--label llama2-7b] [--json out/bench.json]
 *
 * Each `colink place` runs in its own process (fit time and peak RSS are that
 * process's); evaluation replays the held-out split, read once, through core's
 * cost model in this process. Placements are kept in --work and reused by a rerun
 * while the placer, core and trace are unchanged (buildKey).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  budgetForFraction,
  type CachePolicy,
  cacheSpecForPolicy,
  LayerCache,
  LayerPlanner,
  layoutFromOrder,
  readPlacement,
  resolveDeviceProfile,
  simulateLayerRows,
  summarize,
  table,
  TokenStats,
} from "@colink/core";
import { openTraceSet, readSplit } from "../traces.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(here, "../../../cli/bin/colink.js");

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (dflt === undefined) throw new Error(`--${name} is required`);
  return dflt;
}

const traces = arg("traces");
const label = arg("label", path.basename(traces, ".arrow"));
const bundles = arg("bundle-bytes", "24576").split(",").map(Number);
const fractions = arg("fractions", "0,0.05,0.1,0.2").split(",").map(Number);
const methods = arg("methods", "identity,frequency,neuralink,colink").split(",");
const deviceName = arg("device", "ufs40");
const workDir = arg("work", path.resolve("out/bench-placer"));
const jsonOut = process.argv.includes("--json") ? arg("json") : undefined;

/**
 * What a kept placement was made from: the compiled placer and core (not the benches)
 * and the trace file's size and modification time. A rerun reuses a placement only
 * when this matches, so a table never mixes in placements of older code.
 */
function buildKey(): string {
  const h = createHash("sha256");
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "bench") walk(f);
      } else if (e.name.endsWith(".js")) h.update(f.slice(dir.length)).update(readFileSync(f));
    }
  };
  walk(path.resolve(here, ".."));
  walk(path.resolve(here, "../../../core/dist"));
  const st = statSync(traces);
  return h.update(`${path.resolve(traces)} ${st.size} ${st.mtimeMs}`).digest("hex").slice(0, 16);
}

interface Row {
  trace: string;
  bundleBytes: number;
  method: string;
  cache: string;
  fraction: number;
  reads: number;
  kib: number;
  ms: number;
  p99ms: number;
  hit: number;
  boundMs: number;
  fitSeconds: number;
  peakRssMiB: number;
}

async function main(): Promise<void> {
  const device = await resolveDeviceProfile(deviceName);
  const set = await openTraceSet([traces]);
  const held = await readSplit(set, 1);
  const rows: Row[] = [];
  mkdirSync(workDir, { recursive: true });
  const key = buildKey();
  // Baseline orders do not depend on the bundle size or F: they are placed once (at
  // the first bundle size) and evaluated under every setting. A run's fit time and
  // peak RSS are kept beside its placement (*.run.json), so a rerun reuses them.
  const place = (method: string, F: number, bb: number): { file: string; seconds: number; peakRssMiB: number } => {
    const file = path.join(workDir, `${label}-${method}-b${bb}-f${F}.json`);
    const runFile = `${file}.run.json`;
    if (existsSync(file) && existsSync(runFile)) {
      const run = JSON.parse(readFileSync(runFile, "utf8"));
      if (run.key === key) {
        process.stderr.write(`reusing ${file}: ${run.seconds.toFixed(1)} s, ${run.peakRssMiB.toFixed(0)} MiB\n`);
        return { file, seconds: run.seconds, peakRssMiB: run.peakRssMiB };
      }
      process.stderr.write(`placing ${file} again: the placer, core or trace changed since it was made\n`);
    }
    const r = spawnSync(
      process.execPath,
      [BIN, "place", "-t", traces, "-m", method, "-o", file, "--bundle-bytes", String(bb), "--cache-fraction", String(F), "--device", deviceName, "--json", "--quiet"],
      { encoding: "utf8", maxBuffer: 1 << 26 },
    );
    if (r.status !== 0) throw new Error(`place ${method} failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    writeFileSync(runFile, `${JSON.stringify({ key, seconds: out.seconds, peakRssMiB: out.peakRssMiB, choices: out.choices })}\n`);
    process.stderr.write(`placed ${method} F=${F} bundle=${bb}: ${out.seconds.toFixed(1)} s, ${out.peakRssMiB.toFixed(0)} MiB, choices ${JSON.stringify(out.choices)}\n`);
    return { file, seconds: out.seconds, peakRssMiB: out.peakRssMiB };
  };
  const evaluate = async (file: string, policy: CachePolicy, F: number, bb: number) => {
    const p = await readPlacement(file, { layers: set.layers, neurons: set.neurons });
    const budget = budgetForFraction(F, set.neurons);
    const stats = new TokenStats();
    p.layers.forEach((l, i) => {
      const spec = cacheSpecForPolicy(policy, budget, { neurons: set.neurons, declared: l.cache, freq: l.freq });
      const cache = spec.pinned.length + spec.lru > 0 ? new LayerCache(set.neurons, spec) : null;
      const planner = new LayerPlanner(layoutFromOrder(l.order, bb), device, cache);
      simulateLayerRows(planner, held[i].offsets, held[i].ids, 0, held[i].tokens, stats, 0);
    });
    return summarize(stats);
  };
  for (const bb of bundles) {
    for (const method of methods) {
      // baselines' orders do not depend on F: place once, evaluate under pin and lru
      const runs = method === "colink" ? fractions : [0];
      for (const FP of runs) {
        const placed = place(method, FP, method === "colink" ? bb : bundles[0]);
        const evals = method === "colink" ? [FP] : fractions;
        for (const F of evals) {
          const policies: CachePolicy[] = F === 0 ? ["none"] : method === "colink" ? ["declared"] : ["pin", "lru"];
          for (const policy of policies) {
            const s = await evaluate(placed.file, policy, F, bb);
            rows.push({
              trace: label,
              bundleBytes: bb,
              method,
              cache: policy,
              fraction: F,
              reads: s.reads_per_token.mean,
              kib: s.bytes_per_token.mean / 1024,
              ms: s.io_ms_per_token.mean,
              p99ms: s.io_ms_per_token.p99,
              hit: s.hit_rate.mean,
              boundMs: s.bound_io_ms_per_token.mean,
              fitSeconds: placed.seconds,
              peakRssMiB: placed.peakRssMiB,
            });
          }
        }
      }
    }
  }
  // ratio to neuralink with its better cache at the same bundle size and fraction (>1: faster than neuralink)
  const table_rows = rows.map((r) => {
    const nl = rows.filter((x) => x.method === "neuralink" && x.bundleBytes === r.bundleBytes && x.fraction === r.fraction);
    const best = Math.min(...nl.map((x) => x.ms));
    return [
      r.trace,
      String(r.bundleBytes),
      r.method,
      r.fraction === 0 ? "none" : `${r.cache} ${r.fraction}`,
      r.reads.toFixed(1),
      r.kib.toFixed(0),
      r.ms.toFixed(3),
      r.p99ms.toFixed(3),
      r.hit.toFixed(3),
      `${(best / r.ms).toFixed(3)}x`,
      `${(r.ms / r.boundMs).toFixed(2)}x`,
      r.fitSeconds.toFixed(1),
      r.peakRssMiB.toFixed(0),
    ];
  });
  const header = ["trace", "bundle B", "method", "cache", "reads/tok", "KiB/tok", "ms/tok", "p99 ms", "hit rate", "vs neuralink", "vs bound", "fit s", "RSS MiB"];
  process.stdout.write(`${table(header, table_rows)}\n`);
  if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify({ traces, device: device.name, heldOutTokens: held[0].tokens, rows }, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});

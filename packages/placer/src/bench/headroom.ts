/**
 * Cache headroom benchmark (docs/benchmarks.md#placer, "Cache headroom"): how much
 * of the held-out I/O a DRAM cache of the contract's family (pinned / lru /
 * gapfill) can save under a fixed order, against a Belady oracle that knows the
 * future. Run by hand, never in tests:
 *
 *   node packages/placer/dist/bench/headroom.js --traces out/bench-llama2-7b.arrow \
 *     --placement out/bench-placer/llama2-7b-neuralink-b24576-f0.json \
 *     --bundle-bytes 24576,6912 --fraction 0.1 [--device ufs40] [--layers 0,8,16] [--json out/h.json]
 *
 * Per layer, on the held-out split, with the placement's order: no cache, `pin`
 * (the budget's most frequent ids by the placement's `freq`), `pincost` (the budget's
 * ids by pinCostScores on the fit tokens, as colink's candidate of that name), `lru`,
 * `lru+gapfill`, half pinned + lru + gapfill, and the oracle. The non-oracle rows replay through
 * core's LayerCache + LayerPlanner exactly as `colink evaluate` does.
 *
 * The oracle is Belady's rule with bypass: after each token it keeps the B ids,
 * among those cached and the token's active ones, whose next use is soonest (ids
 * never used again are dropped). That maximises hits for a B-bundle cache; its
 * cost is the planner's reads of the missed ids (no cache), so it is the headroom
 * that only future knowledge buys, not a strict lower bound on I/O time (merged
 * reads make time not exactly monotone in hits).
 *
 * Synthetic traces (meta.source "synth"): the generator's true clusters are rebuilt
 * from the trace's seed with core's synthLayerStructure and laid out contiguously,
 * the pinned ids (hottest by `freq`) last, as colink places them: the "ideal order",
 * the best any order could learn. Rows `ideal pin`, `ideal pincost`, `ideal lru`, `ideal lru+gapfill`,
 * `ideal pin50%+lru+gapfill` and `ideal oracle` replay it.
 */
import { writeFileSync } from "node:fs";
import {
  budgetForFraction,
  type CacheSpec,
  cacheSpecForPolicy,
  type DeviceProfile,
  LayerPlanner,
  layoutFromOrder,
  progress,
  readPlacement,
  resolveDeviceProfile,
  synthLayerStructure,
  table,
} from "@colink/core";
import { fitCostUs, hottest, ioCost, pinCostScores, RUN_GAP, recencyMisses } from "../codesign.js";
import type { LayerTokens } from "../cooccur.js";
import { openTraceSet, readSplit } from "../traces.js";

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (dflt === undefined) throw new Error(`--${name} is required`);
  return dflt;
}

const NEVER = 0x3fffffff;

/**
 * Mean held-out I/O microseconds per token of the Belady oracle cache of `budget`
 * bundles, and its hit rate. Allocates once per layer; the keep-set choice sorts
 * packed (next use, id) keys in a Float64Array, so ties go to the lower id.
 */
function oracleCost(
  data: LayerTokens,
  order: ArrayLike<number>,
  budget: number,
  device: DeviceProfile,
  bundleBytes: number,
): { us: number; hit: number } {
  const n = data.neurons;
  const { offsets, ids, tokens } = data;
  // nextPos[q]: the next token after the one of position q where ids[q] fires again
  const nextPos = new Int32Array(ids.length);
  const last = new Int32Array(n).fill(NEVER);
  for (let t = tokens - 1; t >= 0; t--) {
    for (let q = offsets[t]; q < offsets[t + 1]; q++) {
      nextPos[q] = last[ids[q]];
      last[ids[q]] = t;
    }
  }
  let maxActive = 0;
  for (let t = 0; t < tokens; t++) maxActive = Math.max(maxActive, offsets[t + 1] - offsets[t]);
  const nextUse = new Int32Array(n).fill(NEVER);
  const cached = new Uint8Array(n);
  let cache = new Int32Array(budget);
  let nextCache = new Int32Array(budget);
  let size = 0;
  const keys = new Float64Array(budget + maxActive);
  const miss = new Uint32Array(maxActive);
  const planner = new LayerPlanner(layoutFromOrder(order, bundleBytes), device, null);
  const idScale = 2 ** 21; // ids < 2^21 (placer layers are far smaller), next use < 2^30
  let us = 0;
  let hits = 0;
  let requests = 0;
  for (let t = 0; t < tokens; t++) {
    let m = 0;
    let k = 0;
    for (let i = 0; i < size; i++) {
      const id = cache[i];
      keys[k++] = id; // next use filled below, after this token's updates
    }
    for (let q = offsets[t]; q < offsets[t + 1]; q++) {
      const id = ids[q];
      if (cached[id]) hits++;
      else {
        miss[m++] = id;
        keys[k++] = id;
      }
      nextUse[id] = nextPos[q];
    }
    requests += offsets[t + 1] - offsets[t];
    us += planner.step(miss.subarray(0, m)).ioUs;
    if (budget === 0) continue;
    let live = 0;
    for (let i = 0; i < k; i++) {
      const id = keys[i];
      const nu = nextUse[id];
      if (nu !== NEVER) keys[live++] = nu * idScale + id;
    }
    const sorted = keys.subarray(0, live).sort();
    for (let i = 0; i < size; i++) cached[cache[i]] = 0;
    const keep = Math.min(budget, live);
    for (let i = 0; i < keep; i++) {
      const id = sorted[i] % idScale;
      nextCache[i] = id;
      cached[id] = 1;
    }
    const tmp = cache;
    cache = nextCache;
    nextCache = tmp;
    size = keep;
  }
  return { us: us / Math.max(1, tokens), hit: requests > 0 ? hits / requests : 0 };
}

const BASE_ROWS = ["none", "pin", "pincost", "lru", "lru+gapfill", "pin50%+lru+gapfill", "oracle"] as const;
const IDEAL_ROWS = ["ideal pin", "ideal pincost", "ideal lru", "ideal lru+gapfill", "ideal pin50%+lru+gapfill", "ideal oracle"] as const;
type RowName = (typeof BASE_ROWS)[number] | (typeof IDEAL_ROWS)[number];

/** The true clusters contiguous (generator order), then `pinned` ids last. */
function idealOrder(members: Int32Array, pinned: number[]): Uint32Array {
  const mask = new Uint8Array(members.length);
  for (const id of pinned) mask[id] = 1;
  const order = new Uint32Array(members.length);
  let k = 0;
  for (const id of members) if (!mask[id]) order[k++] = id;
  for (const id of pinned) order[k++] = id;
  return order;
}

async function main(): Promise<void> {
  const traces = arg("traces");
  const placementFile = arg("placement");
  const bundles = arg("bundle-bytes", "24576").split(",").map(Number);
  const fraction = Number(arg("fraction", "0.1"));
  const device = await resolveDeviceProfile(arg("device", "ufs40"));
  const jsonOut = process.argv.includes("--json") ? arg("json") : undefined;
  const set = await openTraceSet([traces]);
  const layers = process.argv.includes("--layers")
    ? arg("layers").split(",").map(Number)
    : Array.from({ length: set.layers }, (_, l) => l);
  const p = await readPlacement(placementFile, { layers: set.layers, neurons: set.neurons });
  const held = await readSplit(set, 1);
  const fit = await readSplit(set, 0); // for the pincost set (run starts are counted on fit tokens)
  const n = set.neurons;
  const budget = budgetForFraction(fraction, n);
  // the generator's clusters depend only on (neurons, seed, layer), all in the meta
  const synth = set.meta.source === "synth";
  const ROWS: RowName[] = synth ? [...BASE_ROWS, ...IDEAL_ROWS] : [...BASE_ROWS];
  const results: Array<{ bundleBytes: number; layer: number; ms: Record<RowName, number>; oracleHit: number }> = [];
  const bar = progress({ label: "headroom", total: bundles.length * layers.length, unit: "layer" });
  for (const bb of bundles) {
    for (const l of layers) {
      const d = held[l];
      const pl = p.layers[l];
      if (!pl.freq) throw new Error(`${placementFile}: layers[${l}] has no freq (needed for the pin set)`);
      const order = pl.order;
      const half = hottest(pl.freq, Math.floor(budget / 2));
      const costly = hottest(pinCostScores(recencyMisses(fit[l], RUN_GAP), pl.freq, ioCost(device, bb)), budget);
      const specs: Record<Exclude<(typeof BASE_ROWS)[number], "oracle">, CacheSpec> = {
        none: cacheSpecForPolicy("none", budget, { neurons: n }),
        pin: cacheSpecForPolicy("pin", budget, { neurons: n, freq: pl.freq }),
        pincost: { pinned: costly.ids, lru: 0, gapfill: false },
        lru: cacheSpecForPolicy("lru", budget, { neurons: n }),
        "lru+gapfill": { pinned: [], lru: budget, gapfill: true },
        "pin50%+lru+gapfill": { pinned: half.ids, lru: budget - half.ids.length, gapfill: true },
      };
      const ms = {} as Record<RowName, number>;
      for (const [name, spec] of Object.entries(specs)) ms[name as RowName] = fitCostUs(d, order, spec, device, bb) / Math.max(1, d.tokens) / 1000;
      const o = oracleCost(d, order, budget, device, bb);
      ms.oracle = o.us / 1000;
      if (synth) {
        const { members } = synthLayerStructure(n, set.meta.seed, l);
        const cost = (ord: Uint32Array, spec: CacheSpec) => fitCostUs(d, ord, spec, device, bb) / Math.max(1, d.tokens) / 1000;
        const plain = idealOrder(members, []);
        ms["ideal pin"] = cost(idealOrder(members, specs.pin.pinned), specs.pin);
        ms["ideal pincost"] = cost(idealOrder(members, costly.ids), specs.pincost);
        ms["ideal lru"] = cost(plain, specs.lru);
        ms["ideal lru+gapfill"] = cost(plain, specs["lru+gapfill"]);
        ms["ideal pin50%+lru+gapfill"] = cost(idealOrder(members, half.ids), specs["pin50%+lru+gapfill"]);
        ms["ideal oracle"] = oracleCost(d, plain, budget, device, bb).us / 1000;
      }
      results.push({ bundleBytes: bb, layer: l, ms, oracleHit: o.hit });
      bar.tick(1);
    }
  }
  bar.done();
  const ratio = (ms: Record<RowName, number>) => Math.min(ms.pin, ms.lru) / ms.oracle;
  // the best a perfect order could do with a realizable cache, vs the baseline's better cache
  const idealGain = (ms: Record<RowName, number>) =>
    Math.min(ms.pin, ms.lru) / Math.min(ms["ideal pin"], ms["ideal pincost"], ms["ideal lru"], ms["ideal lru+gapfill"], ms["ideal pin50%+lru+gapfill"]);
  for (const bb of bundles) {
    const rs = results.filter((r) => r.bundleBytes === bb);
    const total = {} as Record<RowName, number>;
    for (const name of ROWS) total[name] = rs.reduce((s, r) => s + r.ms[name], 0);
    const ratios = (ms: Record<RowName, number>) => (synth ? [`${ratio(ms).toFixed(3)}x`, `${idealGain(ms).toFixed(3)}x`] : [`${ratio(ms).toFixed(3)}x`]);
    const rows = rs.map((r) => [String(r.layer), ...ROWS.map((k) => r.ms[k].toFixed(3)), r.oracleHit.toFixed(3), ...ratios(r.ms)]);
    rows.push([`total (${rs.length})`, ...ROWS.map((k) => total[k].toFixed(3)), "", ...ratios(total)]);
    process.stdout.write(
      `${traces}, ${placementFile} order, bundle ${bb} B, budget ${budget} bundles (F = ${fraction}), ${device.name}, ${held[layers[0]].tokens} held-out tokens; ms/token\n`,
    );
    const ratioHeads = synth ? ["best(pin,lru)/oracle", "best(pin,lru)/ideal best"] : ["best(pin,lru)/oracle"];
    process.stdout.write(`${table(["layer", ...ROWS, "oracle hit", ...ratioHeads], rows)}\n\n`);
  }
  if (jsonOut)
    writeFileSync(
      jsonOut,
      `${JSON.stringify({ traces, placement: placementFile, fraction, budget, device: device.name, heldOutTokens: held[layers[0]].tokens, results }, null, 2)}\n`,
    );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});

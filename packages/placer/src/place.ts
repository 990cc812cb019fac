/**
 * `colink place`: traces → per-layer order (+ declared cache) → placement.json.
 * Layers run in parallel on worker threads (pool.ts); the fit split is read once.
 */
import * as path from "node:path";
import {
  budgetForFraction,
  fail,
  note,
  PLACEMENT_FORMAT,
  type Placement,
  type PlacementLayer,
  progress,
  resolveDeviceProfile,
  sha256File,
  writePlacement,
} from "@colink/core";
import { MAX_PAIR_NEURONS, PAIR_BUDGET, pairBytes, type WeightKind } from "./cooccur.js";
import type { LayerJob, LayerResult } from "./layer.js";
import { type ColinkOptions, METHODS, type Method } from "./methods.js";
import { defaultThreads, runLayerJobs } from "./pool.js";
import { bundleBytesFromMeta, bundleBytesFromModel, openTraceSet, readSplit } from "./traces.js";

export interface PlaceOptions {
  traces: string[];
  /** Default colink. */
  method?: Method;
  /** placement.json to write; omitted: nothing is written (programmatic use). */
  out?: string;
  /** Device profile name or JSON file (default ufs40). */
  device?: string;
  bundleBytes?: number;
  /** Model directory (config.json) to derive the bundle size from, when --bundle-bytes is not given. */
  model?: string;
  /** DRAM budget per layer as a fraction of its bundles (default 0). */
  cacheFraction?: number;
  seed?: number;
  /** Worker threads (default: cores, at most 8, as many as half the memory holds pair counts for: defaultThreads). */
  threads?: number;
  /** colink graph parameters. */
  k?: number;
  minCount?: number;
  weight?: WeightKind;
  pairTokens?: number;
  quiet?: boolean;
}

export interface PlaceResult {
  out: string | null;
  method: Method;
  layers: number;
  neurons: number;
  fitTokens: number;
  device: string;
  bundleBytes: number;
  bundleBytesFrom: string;
  cacheFraction: number;
  budget: number;
  /** Simulated I/O ms per fit token under the declared cache (no cache at F = 0). */
  fitIoMsPerToken: number;
  /** How many layers chose each cache/order candidate. */
  choices: Record<string, number>;
  seconds: number;
  /**
   * Where the time went: reading the fit split (wall seconds), and the layers' order
   * (graph, linking, each cache candidate's order) and choose (fit replays) phases,
   * summed over layers (thread-seconds: with 2 threads about twice their wall time).
   */
  timing: { readSeconds: number; orderSeconds: number; chooseSeconds: number };
  /** Worker threads the layers ran on. */
  threads: number;
  peakRssMiB: number;
  placement: Placement;
}

function check(ok: boolean, msg: string): void {
  if (!ok) fail("BAD_ARGUMENT", msg);
}

export async function placeTraces(opts: PlaceOptions): Promise<PlaceResult> {
  const t0 = performance.now();
  const method = opts.method ?? "colink";
  check(METHODS.includes(method), `--method "${method}": expected one of ${METHODS.join(", ")}`);
  const F = opts.cacheFraction ?? 0;
  check(F >= 0 && F < 1, `--cache-fraction must be in [0, 1), got ${F}`);
  const seed = opts.seed ?? 0;
  check(Number.isInteger(seed) && seed >= 0, `--seed must be an integer >= 0, got ${seed}`);
  check(opts.threads === undefined || (Number.isInteger(opts.threads) && opts.threads >= 1), `--threads must be an integer >= 1, got ${opts.threads}`);
  const k = opts.k ?? 16;
  check(Number.isInteger(k) && k >= 1, `--k must be an integer >= 1, got ${k}`);
  const device = await resolveDeviceProfile(opts.device ?? "ufs40");
  const set = await openTraceSet(opts.traces);
  const pairMethod = method === "neuralink" || method === "colink";
  check(
    !pairMethod || set.neurons <= MAX_PAIR_NEURONS,
    `${set.files[0]}: ${set.neurons} neurons per layer; --method ${method} counts co-activation pairs, which supports at most ${MAX_PAIR_NEURONS} (identity and frequency have no limit)`,
  );
  const fromMeta = opts.model ? { bytes: await bundleBytesFromModel(opts.model), from: `model ${opts.model}` } : bundleBytesFromMeta(set.meta);
  const bundleBytes = opts.bundleBytes ?? fromMeta.bytes;
  check(Number.isInteger(bundleBytes) && bundleBytes > 0, `--bundle-bytes must be an integer > 0, got ${bundleBytes}`);
  const bundleBytesFrom = opts.bundleBytes !== undefined ? "option" : fromMeta.from;
  const budget = budgetForFraction(F, set.neurons);

  const tRead = performance.now();
  const fit = await readSplit(set, 0);
  const readSeconds = (performance.now() - tRead) / 1000;
  const fitTokens = fit[0].tokens;
  const pairTokens = opts.pairTokens;
  check(pairTokens === undefined || (Number.isInteger(pairTokens) && pairTokens >= 1), `--pair-tokens must be an integer >= 1, got ${pairTokens}`);
  // each worker holds one layer's pair counts at a time; bound the default by memory
  const counted = method === "colink" ? Math.min(fitTokens, pairTokens ?? fitTokens) : fitTokens;
  // never more workers than layers: each one costs a thread's start-up and a heap
  const threads = Math.min(set.layers, opts.threads ?? defaultThreads(pairMethod ? pairBytes(set.neurons, counted, method === "neuralink") : 0));
  const colink: ColinkOptions = { k, minCount: opts.minCount ?? 2, weight: opts.weight ?? "jaccard", pairTokens, seed };
  function* jobs(): Generator<LayerJob> {
    for (let l = 0; l < set.layers; l++) {
      const data = fit[l];
      fit[l] = undefined as never; // the worker owns it now; let it be collected
      yield { layer: l, method, data, budget, device, bundleBytes, colink };
    }
  }
  // the trace digests for the placement's record, hashed on this (otherwise idle)
  // thread while the workers place (0.9 s for the 7B bench trace)
  const digests = Promise.all(set.files.map(async (f) => ({ file: path.basename(f), sha256: await sha256File(f) })));
  digests.catch(() => {}); // a failure surfaces at the await below, not as an unhandled rejection
  const results: LayerResult[] = new Array(set.layers);
  const bar = progress({ label: `place ${method}`, total: set.layers, unit: "layer", quiet: opts.quiet });
  await runLayerJobs(jobs(), threads, (r) => {
    results[r.layer] = r;
    bar.tick();
  });
  bar.done();

  const choices: Record<string, number> = {};
  let fitUs = 0;
  let orderMs = 0;
  let chooseMs = 0;
  const layers: PlacementLayer[] = results.map((r) => {
    choices[r.choice] = (choices[r.choice] ?? 0) + 1;
    fitUs += r.fitUs;
    orderMs += r.orderMs;
    chooseMs += r.chooseMs;
    const layer: PlacementLayer = { layer: r.layer, order: Array.from(r.order) };
    if (r.cache) layer.cache = r.cache;
    layer.freq = Array.from(r.freq);
    layer.choice = r.choice;
    if (r.communities !== undefined) layer.communities = r.communities;
    if (r.pairTokens !== undefined) layer.pairTokens = r.pairTokens;
    if (r.insideTokens !== undefined) layer.insideTokens = r.insideTokens;
    return layer;
  });
  const traceInfo = await digests;
  const placement: Placement = {
    format: PLACEMENT_FORMAT,
    method,
    params: {
      device: device.name,
      bundleBytes,
      cacheFraction: F,
      budget,
      seed,
      ...(method === "colink" ? { ...colink, pairTokens: pairTokens ?? "auto", pairBudget: PAIR_BUDGET } : {}),
    },
    trace: { files: traceInfo, modelId: set.meta.modelId, layers: set.layers, neurons: set.neurons, fitTokens },
    fit: { io_ms_per_token: fitUs / 1000, note: "simulated on the fit tokens under the declared cache" },
    layers,
  };
  if (opts.out) {
    await writePlacement(opts.out, placement);
    note(opts, `wrote ${opts.out}`);
  }
  return {
    out: opts.out ?? null,
    method,
    layers: set.layers,
    neurons: set.neurons,
    fitTokens,
    device: device.name,
    bundleBytes,
    bundleBytesFrom,
    cacheFraction: F,
    budget,
    fitIoMsPerToken: fitUs / 1000,
    choices,
    seconds: (performance.now() - t0) / 1000,
    timing: { readSeconds, orderSeconds: orderMs / 1000, chooseSeconds: chooseMs / 1000 },
    threads,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    placement,
  };
}

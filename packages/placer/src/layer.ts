/**
 * One layer's placement job: the method's order plus, when there is a DRAM budget,
 * the cache it declares. Runs in a worker thread or inline; input and output are
 * plain data (typed arrays), so it can be posted between threads without copies.
 */
import type { CacheSpec, DeviceProfile } from "@colink/core";
import { cacheCandidates, chooseBest, type Candidate } from "./codesign.js";
import { activationCounts, type LayerTokens } from "./cooccur.js";
import {
  buildColinkGraph,
  type ColinkOptions,
  colinkOrder,
  frequencyOrder,
  identityLayerOrder,
  type Method,
  neuralinkOrder,
} from "./methods.js";

export interface LayerJob {
  layer: number;
  method: Method;
  data: LayerTokens;
  /** DRAM budget in bundles: floor(F x N). */
  budget: number;
  device: DeviceProfile;
  bundleBytes: number;
  colink: ColinkOptions;
}

export interface LayerResult {
  layer: number;
  order: Uint32Array;
  /** Declared cache (only when budget > 0). */
  cache?: CacheSpec;
  freq: Uint32Array;
  /** Which candidate won on the fit tokens, its mean fit cost, and all candidates' costs. */
  choice: string;
  fitUs: number;
  scores: Record<string, number>;
  /** Milliseconds spent ordering (graph, linking) and choosing (fit replay). */
  orderMs: number;
  chooseMs: number;
  communities?: number;
}

export function placeLayer(job: LayerJob): LayerResult {
  const { data, budget, device, bundleBytes } = job;
  const n = data.neurons;
  const t0 = performance.now();
  let candidates: Candidate[];
  let communities: number | undefined;
  let freq: Uint32Array;
  if (job.method === "colink") {
    const g = buildColinkGraph(data, job.colink);
    freq = g.freq;
    communities = g.communities;
    candidates = cacheCandidates(freq, budget, (mask) => colinkOrder(g, mask));
    // refinement on the fit tokens: keep hot-first order where it is cheaper
    if (budget <= 0) candidates.push({ name: "frequency", order: frequencyOrder(freq), cache: { pinned: [], lru: 0, gapfill: false } });
  } else {
    freq = activationCounts(data);
    const order =
      job.method === "identity" ? identityLayerOrder(n) : job.method === "frequency" ? frequencyOrder(freq) : neuralinkOrder(data);
    // Baselines keep their order; with a budget they declare the better of plain
    // frequency pinning and LRU on the fit tokens (no co-design).
    candidates = cacheCandidates(freq, budget, () => order).filter((c) => c.name === "none" || c.name === "pin" || c.name === "lru");
  }
  const t1 = performance.now();
  const best = chooseBest(candidates, data, device, bundleBytes);
  const t2 = performance.now();
  return {
    layer: job.layer,
    order: best.order,
    cache: budget > 0 ? best.cache : undefined,
    freq,
    choice: best.name,
    fitUs: best.fitUs,
    scores: best.scores,
    orderMs: t1 - t0,
    chooseMs: t2 - t1,
    communities,
  };
}

/**
 * One layer's placement job: the method's order plus, when there is a DRAM budget,
 * the cache it declares. Runs in a worker thread or inline; input and output are
 * plain data (typed arrays), so it can be posted between threads without copies.
 */
import { type CacheSpec, type DeviceProfile, NO_CACHE } from "@colink/core";
import { cacheCandidates, chooseBest, type Candidate, hottest } from "./codesign.js";
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
  /** Fit tokens the cache/order candidates are scored on (default 4096). */
  chooseTokens?: number;
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
    // Refinement on the fit tokens: the hottest neurons, which co-fire with nearly
    // everything, scatter reads when linked into communities; candidates set the top
    // 1%, 2% or 5% apart in one block (and plain hot-first order) and the fit replay picks.
    if (budget <= 0) {
      for (const pct of [1, 2, 5]) {
        const hot = hottest(freq, Math.floor((pct * n) / 100));
        if (hot.ids.length > 0) candidates.push({ name: `hot-block-${pct}%`, order: colinkOrder(g, hot.mask), cache: { ...NO_CACHE, pinned: [] } });
      }
      candidates.push({ name: "frequency", order: frequencyOrder(freq), cache: { ...NO_CACHE, pinned: [] } });
    }
  } else {
    freq = activationCounts(data);
    const order =
      job.method === "identity" ? identityLayerOrder(n) : job.method === "frequency" ? frequencyOrder(freq) : neuralinkOrder(data);
    // Baselines keep their order; with a budget they declare the better of plain
    // frequency pinning and LRU on the fit tokens (no co-design).
    candidates = cacheCandidates(freq, budget, () => order).filter((c) => c.name === "none" || c.name === "pin" || c.name === "lru");
  }
  const t1 = performance.now();
  // Candidates are scored on (at most) the first 4096 fit tokens: whole sequences in
  // order, so the caches see real token-to-token reuse, at a bounded cost.
  const m = Math.min(data.tokens, job.chooseTokens ?? 4096);
  const scored: LayerTokens = { neurons: n, tokens: m, offsets: data.offsets.subarray(0, m + 1), ids: data.ids };
  const best = chooseBest(candidates, scored, device, bundleBytes);
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

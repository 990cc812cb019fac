/**
 * One layer's placement job: the method's order plus, when there is a DRAM budget,
 * the cache it declares. Runs in a worker thread or inline; input and output are
 * plain data (typed arrays), so it can be posted between threads without copies.
 */
import type { CacheSpec, DeviceProfile } from "@colink/core";
import { cacheCandidates, chooseBest, chooseJoint, type Candidate, ioCost, type OrderFamily, type Screen } from "./codesign.js";
import { activationCounts, type LayerTokens, meanActive, type PairCounts, releasePairs } from "./cooccur.js";
import { sampleGreedyOrder } from "./greedy.js";
import {
  buildColinkGraph,
  type ColinkOptions,
  colinkOrder,
  frequencyOrder,
  hotBlockOrder,
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
  /** Fit tokens the cache/order candidates are scored on (default: chooseTokens). */
  chooseTokens?: number;
  /** Screen candidates on fewer tokens first (codesign Screen); default 512 tokens, 3 finalists. null: no screening. */
  screen?: Screen | null;
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
  /** Fit tokens colink counted pairs on (autoPairTokens unless --pair-tokens). */
  pairTokens?: number;
  /** Fit tokens colink counted the pairs inside communities on (countInside). */
  insideTokens?: number;
}

// 512 screen tokens (4 runs of 128): on 76 sampled layers of the five bench trace sets
// the same choice as 1024 on 75, a cheaper one (on all 4096 tokens) on the other, and
// the choose phase 34% shorter (docs/benchmarks.md#placer)
const DEFAULT_SCREEN: Screen = { tokens: 512, finalists: 3 };

/**
 * Layers with at most this many pairs (n <= 4000) also score the paper's greedy over
 * all pairs on colink's counts as an order family: 20-60 ms per order on the bundled
 * model's 768-neuron layers, where at 7B (60.6M pairs) it costs 0.6-1.1 s.
 */
export const ALL_PAIRS_FAMILY_PAIRS = 8_000_000;

/** Active ids the fit replays may walk per candidate: 4096 tokens of a 512-active layer (chooseTokens). */
export const CHOOSE_WORK = 1 << 21;

/**
 * Fit tokens the candidates are scored on: as many as CHOOSE_WORK active ids allow,
 * at least 4096. A replay costs about the same on every layer then: 4096 tokens at
 * 7B (532-901 active per token), and more where layers are sparse or narrow (the
 * bundled model: 13-38K of its 196K fit tokens), where 4096 tokens were too few to
 * tell close candidates apart (docs/benchmarks.md#placer, the other text).
 */
export function chooseTokens(data: LayerTokens): number {
  const perToken = meanActive(data);
  return Math.max(4096, perToken > 0 ? Math.floor(CHOOSE_WORK / perToken) : 0);
}

export function placeLayer(job: LayerJob): LayerResult {
  const { data, budget, device, bundleBytes } = job;
  const n = data.neurons;
  const t0 = performance.now();
  let candidates: Candidate[];
  let communities: number | undefined;
  let pairTokens: number | undefined;
  let insideTokens: number | undefined;
  let freq: Uint32Array;
  let families: OrderFamily[] = [];
  let pairs: PairCounts | undefined;
  if (job.method === "colink") {
    const g = buildColinkGraph(data, job.colink);
    pairs = g.pairs;
    pairTokens = g.pairs.tokens;
    insideTokens = g.insideTokens;
    freq = g.freq;
    communities = g.communities;
    candidates = cacheCandidates(freq, budget, (mask) => colinkOrder(g, mask), data, ioCost(device, bundleBytes));
    // Order candidates scored jointly with the cache (chooseJoint): frequency order,
    // and hybrids that set the hottest unpinned 1-25% apart as one compact block
    // before the linked rest. Which wins depends on the device's break-even gap and
    // the bundle size (a long gap rewards compact hot blocks over pairwise links),
    // so the fit replay decides, not a rule.
    const rank = frequencyOrder(freq);
    families = [{ name: "frequency", orderFor: (mask) => hotBlockOrder(g, rank, mask, n), everyCache: true }];
    for (const pct of [1, 2, 5, 10, 25]) {
      const size = Math.floor((pct * n) / 100);
      if (size > 0) families.push({ name: `hot-${pct}%`, orderFor: (mask) => hotBlockOrder(g, rank, mask, size) });
    }
    // where it is cheap, the paper's greedy on colink's counts too: on small layers
    // it beats the community-first linking on some (docs/benchmarks.md#placer)
    if ((n * (n - 1)) / 2 <= ALL_PAIRS_FAMILY_PAIRS) families.push({ name: "allpairs", orderFor: (mask) => sampleGreedyOrder(g, mask) });
  } else {
    freq = activationCounts(data);
    const order =
      job.method === "identity" ? identityLayerOrder(n) : job.method === "frequency" ? frequencyOrder(freq) : neuralinkOrder(data);
    // Baselines keep their order; with a budget they declare the better of plain
    // frequency pinning and LRU on the fit tokens (no co-design).
    candidates = cacheCandidates(freq, budget, () => order).filter((c) => c.name === "none" || c.name === "pin" || c.name === "lru");
  }
  const t1 = performance.now();
  // Candidates are scored on the first fit tokens (chooseTokens): whole sequences in
  // order, so the caches see real token-to-token reuse, at a bounded cost.
  const m = Math.min(data.tokens, job.chooseTokens ?? chooseTokens(data));
  const scored: LayerTokens = { neurons: n, tokens: m, offsets: data.offsets.subarray(0, m + 1), ids: data.ids };
  // families under the best cache only (keep 1): bounds the replays at 7B (the best cache was `pin` for 31 of 32 layers)
  const best = families.length > 0 ? chooseJoint(candidates, families, scored, device, bundleBytes, 1, job.screen === null ? undefined : (job.screen ?? DEFAULT_SCREEN)) : chooseBest(candidates, scored, device, bundleBytes);
  const t2 = performance.now();
  if (pairs) releasePairs(pairs); // the next layer on this thread reuses its memory
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
    pairTokens,
    insideTokens,
  };
}

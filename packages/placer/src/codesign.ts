/**
 * DRAM co-design: choose a layer's cache (pinned / lru / gapfill mix) and its order
 * together, from the fit tokens. Every candidate is scored by replaying the fit tokens
 * through the shared cost model (core LayerPlanner + LayerCache), so what is chosen is
 * what the loader's `declared` policy will run.
 */
import {
  type CacheSpec,
  type DeviceProfile,
  LayerCache,
  LayerPlanner,
  layoutFromOrder,
  maxGapSlots,
  NO_CACHE,
  simulateLayerRows,
  TokenStats,
} from "@colink/core";
import { type LayerTokens, meanActive } from "./cooccur.js";

/** Total simulated I/O microseconds of `data`'s tokens under an order and a cache. */
export function fitCostUs(
  data: LayerTokens,
  order: ArrayLike<number>,
  cache: CacheSpec,
  device: DeviceProfile,
  bundleBytes: number,
): number {
  const layout = layoutFromOrder(order, bundleBytes);
  const lc = cache.pinned.length + cache.lru > 0 ? new LayerCache(data.neurons, cache) : null;
  const planner = new LayerPlanner(layout, device, lc);
  const stats = new TokenStats();
  simulateLayerRows(planner, data.offsets, data.ids, 0, data.tokens, stats, 0);
  let sum = 0;
  for (let t = 0; t < stats.tokens; t++) sum += stats.ioUs[t];
  return sum;
}

export interface Candidate {
  name: string;
  order: Uint32Array;
  cache: CacheSpec;
  /** Identifies the pinned set (candidates with equal pinSet pin the same ids); none: nothing pinned. */
  pinSet?: string;
  /** A baseline's cache (none, pin, lru): `everyCache` order families are always scored under it. */
  baseline?: boolean;
}

export interface Choice {
  name: string;
  order: Uint32Array;
  cache: CacheSpec;
  /** Mean simulated I/O microseconds per fit token of this layer. */
  fitUs: number;
  /** Every candidate's mean fit cost, for the placement's record. */
  scores: Record<string, number>;
}

/** Scores candidates on the fit tokens; the cheapest wins (ties: the earlier one). */
export function chooseBest(candidates: Candidate[], data: LayerTokens, device: DeviceProfile, bundleBytes: number): Choice {
  let best = -1;
  let bestUs = Number.POSITIVE_INFINITY;
  const scores: Record<string, number> = {};
  candidates.forEach((c, i) => {
    const us = fitCostUs(data, c.order, c.cache, device, bundleBytes) / Math.max(1, data.tokens);
    scores[c.name] = us;
    if (us < bestUs) {
      bestUs = us;
      best = i;
    }
  });
  const c = candidates[best];
  return { name: c.name, order: c.order, cache: c.cache, fitUs: bestUs, scores };
}

/** The `count` most frequent ids (ties to the lower id), and a membership mask. */
export function hottest(freq: ArrayLike<number>, count: number): { ids: number[]; mask: Uint8Array } {
  const ids = Array.from({ length: freq.length }, (_, i) => i);
  ids.sort((x, y) => freq[y] - freq[x] || x - y);
  const top = ids.slice(0, count);
  const mask = new Uint8Array(freq.length);
  for (const id of top) mask[id] = 1;
  return { ids: top, mask };
}

/**
 * Per neuron, the fit tokens on which it is active but was not active in any of the
 * `horizon` tokens before: the activations a recency cache that remembers about
 * `horizon` tokens would miss. Pinning the ids with the most of these, rather than
 * the most frequent, pins what recency cannot serve (frequent but scattered
 * activations) and leaves it what it serves well (bursts of consecutive tokens).
 */
export function recencyMisses(data: LayerTokens, horizon: number): Float64Array {
  return recencyMissesAt(data, [horizon])[0];
}

/** recencyMisses for several horizons in one pass over the tokens (equal horizons share one array). */
export function recencyMissesAt(data: LayerTokens, horizons: number[]): Float64Array[] {
  const n = data.neurons;
  const last = new Int32Array(n).fill(-0x40000000); // "never": longer ago than any horizon
  const h = Float64Array.from(new Set(horizons)); // at 7B most shares' horizons are 1
  const counts = Array.from(h, () => new Float64Array(n));
  for (let t = 0; t < data.tokens; t++) {
    for (let p = data.offsets[t]; p < data.offsets[t + 1]; p++) {
      const id = data.ids[p];
      const gap = t - last[id];
      for (let k = 0; k < h.length; k++) if (gap > h[k]) counts[k][id]++;
      last[id] = t;
    }
  }
  return horizons.map((x) => counts[h.indexOf(x)]);
}

/**
 * The cache candidates for a budget of `budget` bundles, each with the order made for
 * it by `orderFor(pinnedMask)` (pinned ids excluded from linking and placed last):
 * - `pin` (the hottest `budget` ids) and `lru`: the baselines' caches;
 * - `lru+gapfill`;
 * - `pinP%+lru+gapfill`, P = 25/50/75: the hottest P% pinned, the rest by recency;
 * - when the fit tokens `data` are given, `pinmissP%+lru` and `pinmissP%+lru+gapfill`,
 *   P = 10/15/25/50/75/90: the P% with the most recency misses at the recency part's
 *   horizon pinned (recencyMisses), the rest by recency. On traces with strong
 *   token-to-token reuse these beat both baselines where the hottest-pinned mixes
 *   do not (docs/benchmarks.md#placer);
 * - when `io` (the device's request latency, one bundle's transfer time and the
 *   merge gap) is also given, `pincost-lone50` and `pincost-lone75`: the whole budget
 *   pinned, static like `pin`, ranked by the I/O time an id's activations would cost
 *   unpinned (pinCostScores): a bundle's transfer each, and a request for those that
 *   no neighbour carries into a merged read, estimated as a blend of *run starts*
 *   (the id idle on the RUN_GAP tokens before: temporal) and *lone activations* in
 *   the linked order `orderFor(undefined)` (no other active id within the merge gap:
 *   spatial, loneActivations), with that share (50% / 75%) from the lone ones. They
 *   prefer neurons that fire alone, a request each time, to those that ride inside
 *   their neighbours' merged reads; which blend wins depends on the bundle size and
 *   the trace, so the fit replay decides (docs/benchmarks.md#placer). Each comes
 *   with `pincost-loneP r`: the same blend ranked again (RERANK_ROUNDS) with lone
 *   activations that do not count the pinned ids as neighbours.
 * Budget 0: no cache.
 */
export function cacheCandidates(
  freq: ArrayLike<number>,
  budget: number,
  orderFor: (pinned: Uint8Array | undefined) => Uint32Array,
  data?: LayerTokens,
  io?: IoCost,
): Candidate[] {
  const plain = orderFor(undefined);
  if (budget <= 0) return [{ name: "none", order: plain, cache: { ...NO_CACHE, pinned: [] }, baseline: true }];
  const all = hottest(freq, budget);
  const out: Candidate[] = [
    { name: "pin", order: orderFor(all.mask), cache: { pinned: all.ids, lru: 0, gapfill: false }, pinSet: `hot${budget}`, baseline: true },
    { name: "lru", order: plain, cache: { pinned: [], lru: budget, gapfill: false }, baseline: true },
    { name: "lru+gapfill", order: plain, cache: { pinned: [], lru: budget, gapfill: true } },
  ];
  const share = (pct: number): number => Math.floor((budget * pct) / 100);
  const sizes = new Set<number>(); // small budgets round several shares to one size: score it once
  for (const pct of [25, 50, 75]) {
    const size = share(pct);
    if (size === 0 || size === budget || sizes.has(size)) continue;
    sizes.add(size);
    const part = hottest(freq, size);
    const cache = { pinned: part.ids, lru: budget - size, gapfill: true };
    out.push({ name: `pin${pct}%+lru+gapfill`, order: orderFor(part.mask), cache, pinSet: `hot${size}` });
  }
  const perToken = data ? meanActive(data) : 0;
  if (!data || perToken === 0) return out;
  sizes.clear();
  const shares: Array<{ pct: number; size: number }> = [];
  // (the grid reaches 90% because 75%, its former top, won on most layers of traces
  // where pinning matters more than recency: docs/benchmarks.md)
  for (const pct of [10, 15, 25, 50, 75, 90]) {
    const size = share(pct);
    if (size === 0 || size === budget || sizes.has(size)) continue;
    sizes.add(size);
    shares.push({ pct, size });
  }
  // the recency part holds about lru / perToken tokens' worth of active bundles
  const horizons = shares.map(({ size }) => Math.max(1, Math.floor((budget - size) / perToken)));
  const misses = recencyMissesAt(data, [...horizons, RUN_GAP]);
  const runStarts = misses[horizons.length];
  for (let x = 0; x < shares.length; x++) {
    const { pct, size } = shares[x];
    const lru = budget - size;
    const miss = hottest(misses[x], size);
    const order = orderFor(miss.mask);
    for (const gapfill of [false, true]) {
      const name = `pinmiss${pct}%+lru${gapfill ? "+gapfill" : ""}`;
      out.push({ name, order, cache: { pinned: miss.ids, lru, gapfill }, pinSet: `miss${size}` });
    }
  }
  if (io) {
    const pinAll = (name: string, top: { ids: number[]; mask: Uint8Array }): void => {
      out.push({ name, order: orderFor(top.mask), cache: { pinned: top.ids, lru: 0, gapfill: false }, pinSet: name });
    };
    const loneCounter = new LoneCounter(data, plain, io);
    const lone = loneCounter.count();
    for (const share of LONE_SHARES) {
      const name = `pincost-lone${Math.round(share * 100)}`;
      let top = hottest(pinCostScores(runStarts, freq, io, { counts: lone, share }), budget);
      pinAll(name, top);
      // A pinned neighbour is never read, so it carries no activation into a merged
      // read: rank again with lone activations that count only unpinned neighbours.
      for (let round = 0; round < RERANK_ROUNDS; round++) {
        const counts = loneCounter.count(top.mask);
        top = hottest(pinCostScores(runStarts, freq, io, { counts, share }), budget);
      }
      pinAll(`${name}r`, top);
    }
  }
  return out;
}

/**
 * Rounds of the `pincost-loneP r` re-ranking: each recounts lone activations with the
 * previous round's pinned ids as no company, and picks the budget again.
 */
export const RERANK_ROUNDS = 2;

/**
 * Shares of pinCostScores' request estimate taken from lone activations, one
 * `pincost-loneP` candidate each. Share 0 (run starts alone) was a candidate too
 * until no layer of any benchmark trace set chose it over these two
 * (docs/benchmarks.md#placer).
 */
export const LONE_SHARES = [0.5, 0.75];

/**
 * Per id, the tokens on which it is active while no other active id lies within the
 * merge gap of it in `order` (at most `io.maxGap` slots between them): activations
 * that no neighbour in that order carries into a merged read, so each pays a request.
 * Ids marked in `noCompany` (pinned ones, which are never read) do not count as
 * neighbours for anyone; they keep their slots in `order`. To count one order against
 * several `noCompany` sets, make one LoneCounter and call `count` for each.
 */
export function loneActivations(data: LayerTokens, order: ArrayLike<number>, io: IoCost, noCompany?: Uint8Array): Float64Array {
  return new LoneCounter(data, order, io).count(noCompany);
}

/**
 * Lone activations (loneActivations) of one order, counted for as many `noCompany`
 * sets as asked. The constructor sorts every token's active slots once (a bitmap of
 * the layer's slots read back word by word, linear in the slots); each count is then
 * two sequential passes per token: the nearest neighbour below a slot on the way up,
 * the nearest above it on the way down.
 */
export class LoneCounter {
  private readonly order: Uint32Array;
  private readonly reach: number; // slots apart that still merge
  private readonly tokens: number;
  private readonly offsets: Int32Array;
  private readonly slots: Uint16Array | Uint32Array; // per token, its active ids' slots, ascending
  private readonly maxActive: number;

  constructor(data: LayerTokens, order: ArrayLike<number>, io: IoCost) {
    const n = data.neurons;
    this.order = Uint32Array.from(order);
    this.reach = io.maxGap + 1;
    this.tokens = data.tokens;
    this.offsets = data.offsets;
    const slot = new Int32Array(n);
    for (let s = 0; s < n; s++) slot[this.order[s]] = s;
    const { ids, offsets } = data;
    const slots = new (n <= 0x10000 ? Uint16Array : Uint32Array)(offsets[data.tokens]);
    const words = new Int32Array((n + 31) >>> 5);
    let maxActive = 0;
    for (let t = 0; t < data.tokens; t++) {
      const a = offsets[t];
      const b = offsets[t + 1];
      if (b - a > maxActive) maxActive = b - a;
      let wlo = words.length;
      let whi = -1;
      for (let p = a; p < b; p++) {
        const x = slot[ids[p]];
        const w = x >>> 5;
        words[w] |= 1 << (x & 31);
        if (w < wlo) wlo = w;
        if (w > whi) whi = w;
      }
      // a token's ids are distinct (the trace contract), so its bits are its slots
      let q = a;
      for (let w = wlo; w <= whi; w++) {
        let bits = words[w];
        words[w] = 0;
        while (bits !== 0) {
          const low = bits & -bits;
          slots[q++] = (w << 5) | (31 - Math.clz32(low));
          bits ^= low;
        }
      }
    }
    this.slots = slots;
    this.maxActive = maxActive;
  }

  /** Per id, its lone activations with the ids marked in `noCompany` counting as no neighbour. */
  count(noCompany?: Uint8Array): Float64Array {
    const { order, reach, tokens, offsets, slots } = this;
    const n = order.length;
    const company = new Uint8Array(n).fill(1); // per slot
    if (noCompany) for (let s = 0; s < n; s++) company[s] = noCompany[order[s]] === 0 ? 1 : 0;
    const lone = new Int32Array(n); // per slot
    const near = new Int32Array(this.maxActive); // 1: the token's p-th slot has a neighbour below it
    // branch-free: whether a slot has a neighbour is a coin toss the predictor would lose
    for (let t = 0; t < tokens; t++) {
      const a = offsets[t];
      const b = offsets[t + 1];
      let below = -reach - 1;
      for (let p = a; p < b; p++) {
        const x = slots[p];
        near[p - a] = ((reach - x + below) >> 31) + 1; // x - below <= reach
        below += (x - below) & -company[x];
      }
      let above = n + reach + 1;
      for (let p = b - 1; p >= a; p--) {
        const x = slots[p];
        lone[x] += (near[p - a] ^ 1) & ((reach - above + x) >>> 31); // and above - x > reach
        above += (x - above) & -company[x];
      }
    }
    const out = new Float64Array(n);
    for (let s = 0; s < n; s++) out[order[s]] = lone[s];
    return out;
  }
}

/**
 * What a read costs on the device: a request's latency and one bundle's transfer,
 * microseconds, and the most bundles a merged read reads through (core maxGapSlots).
 */
export interface IoCost {
  latencyUs: number;
  transferUs: number;
  maxGap: number;
}

/** The device's IoCost for bundles of `bundleBytes`. */
export function ioCost(device: DeviceProfile, bundleBytes: number): IoCost {
  return { latencyUs: device.latencyUs, transferUs: (bundleBytes * 1e6) / device.bandwidthBytesPerSec, maxGap: maxGapSlots(device, bundleBytes) };
}

/** Idle tokens that end a run of activations for `pinCostScores` (2, 3 and 4 scored alike: docs/benchmarks.md). */
export const RUN_GAP = 2;

/**
 * Per id, the I/O microseconds its fit-token activations would cost unpinned, if each
 * transfers one bundle and each that starts a run (`starts`: recencyMisses at
 * RUN_GAP, no activation in the RUN_GAP tokens before) also pays a request:
 * transfer x activations + latency x run starts. With `lone`, the request estimate
 * is (1 - share) x run starts + share x lone.counts.
 */
export function pinCostScores(
  starts: ArrayLike<number>,
  freq: ArrayLike<number>,
  io: IoCost,
  lone?: { counts: ArrayLike<number>; share: number },
): Float64Array {
  const share = lone?.share ?? 0;
  const counts = lone?.counts ?? starts;
  const score = new Float64Array(freq.length);
  for (let i = 0; i < score.length; i++) score[i] = io.latencyUs * ((1 - share) * starts[i] + share * counts[i]) + io.transferUs * freq[i];
  return score;
}

/** An alternative order construction, made for a cache's pinned set (undefined: none). */
export interface OrderFamily {
  name: string;
  orderFor: (pinned: Uint8Array | undefined) => Uint32Array;
  /** Score under every cache candidate, not only the best `keep` (a baseline must never win on fit cost). */
  everyCache?: boolean;
}

/**
 * How candidates are screened before the full replay: every candidate is scored on
 * `tokens` fit tokens (`windows` runs of consecutive tokens spread evenly over the
 * scored range, so caches still see token-to-token reuse), then only the
 * `finalists` cheapest (plus the cheapest `everyCache` one) are replayed on all the
 * scored tokens, and the cheapest of those wins. Most of colink's fit time was
 * candidate replays; this cuts them ~3x at 7B (docs/benchmarks.md#placer).
 */
export interface Screen {
  tokens: number;
  finalists: number;
  windows?: number;
}

/** `count` fit tokens in `windows` evenly spread runs of consecutive tokens, as one CSR (a copy). */
export function screenTokens(data: LayerTokens, count: number, windows = 4): LayerTokens {
  if (count >= data.tokens) return data;
  const w = Math.max(1, Math.min(windows, count));
  const runs: Array<[number, number]> = [];
  let total = 0;
  let size = 0;
  for (let r = 0; r < w; r++) {
    const len = Math.floor(((r + 1) * count) / w) - Math.floor((r * count) / w);
    const at = Math.floor((r * data.tokens) / w);
    runs.push([at, at + len]);
    total += len;
    size += data.offsets[at + len] - data.offsets[at];
  }
  const offsets = new Int32Array(total + 1);
  const ids = new (data.ids instanceof Uint16Array ? Uint16Array : Uint32Array)(size);
  let t = 0;
  let p = 0;
  for (const [a, b] of runs) {
    for (let x = a; x < b; x++) {
      const from = data.offsets[x];
      const to = data.offsets[x + 1];
      ids.set(data.ids.subarray(from, to), p);
      p += to - from;
      offsets[++t] = p;
    }
  }
  return { neurons: data.neurons, tokens: total, offsets, ids };
}

/**
 * Order and cache chosen together on the fit tokens. Stage 1 scores every cache
 * candidate with its own order (the method's linked order); stage 2 scores every
 * order family under each of the `keep` best caches of stage 1 (`everyCache`
 * families also under every `baseline` cache). The cheapest of all wins (ties:
 * stage 1, then the earlier candidate), so the result is never worse on the scored
 * tokens than an `everyCache` family (frequency order) under the baselines' pin and
 * lru, nor than any cache candidate with the linked order.
 * Family orders are built only when scored and memoised per pinned set (a
 * candidate's `pinSet`): at 7B that is about a dozen orders of 44 KB per layer.
 */
export function chooseJoint(
  caches: Candidate[],
  families: OrderFamily[],
  data: LayerTokens,
  device: DeviceProfile,
  bundleBytes: number,
  keep = 2,
  screen?: Screen,
): Choice {
  const full = data;
  const screening = screen !== undefined && screen.tokens < data.tokens;
  if (screen && screening) data = screenTokens(data, screen.tokens, screen.windows);
  const first = chooseBest(caches, data, device, bundleBytes);
  // every scored candidate, in scoring order, for the finalists' full replay
  const pool: Array<{ name: string; order: Uint32Array; cache: CacheSpec; us: number; every: boolean }> = caches.map((c) => ({
    ...c,
    us: first.scores[c.name],
    every: false,
  }));
  const scores = { ...first.scores };
  let best: Choice = first;
  const ranked = caches
    .map((c, i) => ({ c, i, us: first.scores[c.name] }))
    .sort((x, y) => x.us - y.us || x.i - y.i);
  const seen = new Map<string, number>();
  const orders = new Map<string, Uint32Array>(); // per pinned set and family: lru and lru+gapfill share one
  const tokens = Math.max(1, data.tokens);
  for (let r = 0; r < ranked.length; r++) {
    const c = ranked[r].c;
    let mask: Uint8Array | undefined;
    if (c.cache.pinned.length > 0) {
      mask = new Uint8Array(data.neurons);
      for (const id of c.cache.pinned) mask[id] = 1;
    }
    for (const f of families) {
      if (r >= keep && !(f.everyCache && c.baseline)) continue;
      const name = `${c.name}+${f.name}`;
      // same pinned set and same cache kind as a scored one: same cost
      const pins = c.pinSet ?? (c.cache.pinned.length === 0 ? "" : c.name);
      const key = `${pins}/${c.cache.lru}/${c.cache.gapfill}/${f.name}`;
      if (seen.has(key)) continue;
      const okey = `${pins}/${f.name}`;
      let order = orders.get(okey);
      if (!order) {
        order = f.orderFor(mask);
        orders.set(okey, order);
      }
      const us = fitCostUs(data, order, c.cache, device, bundleBytes) / tokens;
      seen.set(key, us);
      scores[name] = us;
      pool.push({ name, order, cache: c.cache, us, every: f.everyCache === true });
      if (us < best.fitUs) best = { name, order, cache: c.cache, fitUs: us, scores };
    }
  }
  if (!screen || !screening) return { ...best, scores };
  // finalists: the cheapest on the screen, and the cheapest everyCache (baseline-like) one
  const ranked2 = pool.map((p, i) => ({ p, i })).sort((x, y) => x.p.us - y.p.us || x.i - y.i);
  const finals = ranked2.slice(0, Math.max(1, screen.finalists));
  const every = ranked2.find((x) => x.p.every);
  if (every && !finals.includes(every)) finals.push(every);
  finals.sort((x, y) => x.i - y.i);
  const fullTokens = Math.max(1, full.tokens);
  let win: Choice | undefined;
  for (const { p } of finals) {
    const us = fitCostUs(full, p.order, p.cache, device, bundleBytes) / fullTokens;
    scores[p.name] = us;
    if (!win || us < win.fitUs) win = { name: p.name, order: p.order, cache: p.cache, fitUs: us, scores };
  }
  return { ...(win as Choice), scores };
}


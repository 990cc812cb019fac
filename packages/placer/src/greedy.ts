/**
 * The paper's greedy linking over *all* pairs, with bounded memory: pairs are taken
 * by count, descending, in chunks of about `cap` pairs, and each chunk is drawn only
 * from the pairs of the current path ends (a node inside a path can never link
 * again, so skipping it changes nothing). The result is exactly the all-pairs
 * greedy on the counted tokens (same tie order: lower first id, then lower second),
 * while only one chunk of pairs is ever held (the all-pairs sort holds every
 * positive pair: 240 MB per 7B layer; a chunk of 256 x N pairs is 11 MB and needs
 * 2-3 passes over the ends' pairs at 7B). At 7B colink links inside and across
 * Louvain communities instead, which placed better at a tenth of the cost; on small
 * layers (layer.ts ALL_PAIRS_FAMILY_PAIRS) this order is one of the families the fit
 * tokens choose from (docs/placement.md). The benches (orders.js, breakdown.js) keep
 * it as the reference "paper's greedy on colink's sample".
 */
import type { PairCounts } from "./cooccur.js";
import { PathLinker } from "./link.js";
import { type ColinkGraph, finishOrder } from "./methods.js";

/** Links pairs among the non-excluded nodes by count, descending, until one path remains or no positive pair is left. */
export function linkAllPairsChunked(linker: PathLinker, pc: PairCounts, exclude: Uint8Array | undefined, cap: number): void {
  const { counts, rowBase } = pc;
  const n = linker.n;
  const top = pc.tokens; // no pair count exceeds the tokens counted
  const hist = new Float64Array(top + 2);
  const start = new Float64Array(top + 2);
  let below = top + 1; // counts >= below were taken in earlier chunks
  let free = 0;
  for (let i = 0; i < n; i++) if (!exclude?.[i]) free++;
  const target = free - 1;
  let done = 0; // links made by this call
  const ends = new Int32Array(n);
  while (done < target && below > 1) {
    // the current path ends (ascending ids), the only nodes that can still link
    let m = 0;
    for (let i = 0; i < n; i++) if (!exclude?.[i] && linker.nb1[i] === -1) ends[m++] = i;
    hist.fill(0, 0, below + 1);
    for (let x = 0; x < m - 1; x++) {
      const base = rowBase[ends[x]];
      for (let y = x + 1; y < m; y++) {
        const c = counts[base + ends[y]];
        if (c < below) hist[c]++;
      }
    }
    // the next chunk: whole count buckets from below-1 down, up to cap pairs (at least one bucket)
    let take = 0;
    let lo = below;
    for (let c = below - 1; c >= 1; c--) {
      if (hist[c] === 0) continue;
      if (take > 0 && take + hist[c] > cap) break;
      start[c] = take;
      take += hist[c];
      lo = c;
    }
    if (take === 0) break;
    const Pair = n <= 65536 ? Uint16Array : Uint32Array;
    const pi = new Pair(take);
    const pj = new Pair(take);
    for (let x = 0; x < m - 1; x++) {
      const i = ends[x];
      const base = rowBase[i];
      for (let y = x + 1; y < m; y++) {
        const c = counts[base + ends[y]];
        if (c < lo || c >= below) continue;
        const at = start[c]++;
        pi[at] = i;
        pj[at] = ends[y];
      }
    }
    for (let e = 0; e < take && done < target; e++) if (linker.tryLink(pi[e], pj[e])) done++;
    below = lo;
  }
}

/**
 * The paper's order on colink's token sample (all pairs of the non-excluded
 * neurons, by sampled co-activation count), laid out like colink's linked order.
 */
export function sampleGreedyOrder(g: ColinkGraph, exclude?: Uint8Array, cap = 256 * g.neurons): Uint32Array {
  const linker = new PathLinker(g.neurons);
  linkAllPairsChunked(linker, g.pairs, exclude, cap);
  return finishOrder(g, linker, exclude);
}

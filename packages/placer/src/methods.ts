/**
 * Placement methods: each orders one layer's neurons from its fit tokens. Pure
 * functions on plain data (CSR tokens + options) returning plain data (docs/placement.md).
 */
import { UndirectedGraph } from "graphology";
import {
  activationCounts,
  autoPairTokens,
  counterArray,
  countPairs,
  pairWork,
  type LayerTokens,
  type PairCounts,
  releasePairs,
  sampleTokens,
  triangleRowBase,
  topKEdges,
  type WeightKind,
} from "./cooccur.js";
import { concatPaths, PathLinker } from "./link.js";
import { louvain } from "./louvain.js";

export type Method = "identity" | "frequency" | "neuralink" | "colink";
export const METHODS: readonly Method[] = ["identity", "frequency", "neuralink", "colink"];

export function identityLayerOrder(n: number): Uint32Array {
  const o = new Uint32Array(n);
  for (let i = 0; i < n; i++) o[i] = i;
  return o;
}

/** Ids by activation count, most frequent first; ties to the lower id. */
export function frequencyOrder(freq: ArrayLike<number>): Uint32Array {
  const ids = Array.from({ length: freq.length }, (_, i) => i);
  ids.sort((x, y) => freq[y] - freq[x] || x - y);
  return Uint32Array.from(ids);
}

/**
 * The Neuralink paper's order, faithfully: P(i,j) = co-activations / tokens over all
 * fit tokens and *all* pairs; pairs taken by P descending (ties: lower i, then lower
 * j), linking path ends of different paths until one path remains. The sort is a
 * counting sort on the integer counts (exact, O(pairs)). Pairs that never co-occur
 * (P = 0, all tied) join the remaining paths in id order.
 */
export function neuralinkOrder(data: LayerTokens): Uint32Array {
  const n = data.neurons;
  if (n <= 1) return identityLayerOrder(n);
  const pc = countPairs(data);
  const linker = new PathLinker(n);
  linkByCountDesc(linker, pc, identityLayerOrder(n));
  releasePairs(pc); // the next layer on this thread reuses its memory
  return concatPaths(linker.paths(), n);
}

/**
 * Greedy linking over every pair of `nodes` (ascending ids) by co-activation count,
 * descending (ties: lower first id, then lower second id; zero counts skipped).
 */
export function linkByCountDesc(linker: PathLinker, pc: PairCounts, nodes: Uint32Array): void {
  const { pi, pj } = pairsByCountDesc(pc, nodes);
  const target = linker.n - 1;
  for (let e = 0; e < pi.length && linker.links < target; e++) linker.tryLink(pi[e], pj[e]);
}

/** The pairs of `nodes` (ascending ids) with a positive count, as two id lists. */
export interface SortedPairs {
  pi: Uint16Array | Uint32Array;
  pj: Uint16Array | Uint32Array;
}

/**
 * Every pair of `nodes` (ascending ids) with a positive co-activation count, by
 * count descending (ties: lower first id, then lower second id). The sort is a
 * counting sort on the integer counts: exact and O(pairs). The pairs of any subset
 * of `nodes`, in this list's order, are that subset's own sorted list.
 */
export function pairsByCountDesc(pc: PairCounts, nodes: Uint32Array): SortedPairs {
  const { counts, rowBase } = pc;
  const m = nodes.length;
  let max = 0;
  let positive = 0;
  for (let x = 0; x < m - 1; x++) {
    const base = rowBase[nodes[x]];
    for (let y = x + 1; y < m; y++) {
      const c = counts[base + nodes[y]];
      if (c > 0) positive++;
      if (c > max) max = c;
    }
  }
  const start = new Float64Array(max + 2);
  for (let x = 0; x < m - 1; x++) {
    const base = rowBase[nodes[x]];
    for (let y = x + 1; y < m; y++) start[counts[base + nodes[y]]]++;
  }
  let acc = 0; // buckets from the largest count down
  for (let c = max; c >= 1; c--) {
    const h = start[c];
    start[c] = acc;
    acc += h;
  }
  const Pair = pc.neurons <= 65536 ? Uint16Array : Uint32Array;
  const pi = new Pair(positive);
  const pj = new Pair(positive);
  for (let x = 0; x < m - 1; x++) {
    const i = nodes[x];
    const base = rowBase[i];
    for (let y = x + 1; y < m; y++) {
      const j = nodes[y];
      const c = counts[base + j];
      if (c === 0) continue;
      const at = start[c]++;
      pi[at] = i;
      pj[at] = j;
    }
  }
  return { pi, pj };
}

export interface ColinkOptions {
  /** Strongest neighbours kept per neuron (default 16). */
  k?: number;
  /** Minimum co-activation count of a kept edge (default 2). */
  minCount?: number;
  /** Weight that picks each neuron's k neighbours: Jaccard (default) or co-activation probability. */
  weight?: WeightKind;
  /** Fit tokens used for pair counts, evenly spaced (default: autoPairTokens within `pairBudget`). */
  pairTokens?: number;
  /** Pair increments the automatic sample may cost (default PAIR_BUDGET). */
  pairBudget?: number;
  /** Louvain resolution (default 1). */
  resolution?: number;
  /** Pair increments the counts inside communities may cost beyond the sample (default: what the sample's count cost); see countInside. */
  insideBudget?: number;
  seed?: number;
}

/** What colink learns once per layer and reuses for every cache candidate. */
export interface ColinkGraph {
  neurons: number;
  freq: Uint32Array;
  community: Int32Array;
  communities: number;
  /** Members of community c: members[start[c] .. start[c + 1]), ascending ids. */
  members: Uint32Array;
  start: Int32Array;
  /** Pair counts on the token sample: the graph's weights, and the greedy's counts across communities. */
  pairs: PairCounts;
  /**
   * Every community's pairs by their counts on `insideTokens` fit tokens
   * (countInside), descending, one community after another: made once, then
   * filtered by each cache candidate's pinned set instead of sorted again per
   * candidate. Null when the communities hold more than INSIDE_PAIRS_CAP pairs
   * (then each order sorts its own by the sample's counts).
   */
  inside: SortedPairs | null;
  /** Fit tokens the inside lists were counted on (countInside); 0 when inside is null. */
  insideTokens: number;
}

/** Most pairs (inside communities) kept sorted per ColinkGraph: 8M pairs, 32 MB as uint16. */
export const INSIDE_PAIRS_CAP = 8_000_000;

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pair counts on a token sample → top-k graph → Louvain communities. */
export function buildColinkGraph(data: LayerTokens, opts: ColinkOptions = {}): ColinkGraph {
  const n = data.neurons;
  const k = opts.k ?? 16;
  const rows = sampleTokens(data.tokens, opts.pairTokens ?? autoPairTokens(data, opts.pairBudget));
  const freq = activationCounts(data);
  const sampleFreq = new Uint32Array(n);
  for (let r = 0; r < rows.length; r++)
    for (let p = data.offsets[rows[r]]; p < data.offsets[rows[r] + 1]; p++) sampleFreq[data.ids[p]]++;
  const pc = countPairs(data, rows);
  const { a, b, w } = topKEdges(pc, sampleFreq, k, opts.minCount ?? 2, opts.weight ?? "jaccard");
  const community = new Int32Array(n);
  let communities = 1;
  if (a.length > 0) {
    const g = new UndirectedGraph();
    for (let i = 0; i < n; i++) g.addNode(i);
    for (let e = 0; e < a.length; e++) g.addEdge(a[e], b[e], { weight: w[e] });
    const map = louvain(g, { getEdgeWeight: "weight", resolution: opts.resolution ?? 1, rng: mulberry32(opts.seed ?? 0) });
    let max = 0;
    for (let i = 0; i < n; i++) {
      community[i] = map[i];
      if (map[i] > max) max = map[i];
    }
    communities = max + 1;
  }
  // members grouped by community (counting sort: ascending ids inside each)
  const start = new Int32Array(communities + 1);
  for (let i = 0; i < n; i++) start[community[i] + 1]++;
  for (let c = 0; c < communities; c++) start[c + 1] += start[c];
  const members = new Uint32Array(n);
  const at = start.slice(0, communities);
  for (let i = 0; i < n; i++) members[at[community[i]]++] = i;
  const g: ColinkGraph = { neurons: n, freq, community, communities, members, start, pairs: pc, inside: null, insideTokens: 0 };
  let total = 0;
  for (let c = 0; c < communities; c++) {
    const m = start[c + 1] - start[c];
    total += (m * (m - 1)) / 2;
  }
  if (total <= INSIDE_PAIRS_CAP) {
    const inside = countInside(data, g, rows, opts.insideBudget ?? pairWork(data, rows));
    g.inside = insidePairs(g, inside);
    g.insideTokens = inside.tokens;
  }
  return g;
}

/** Co-activation counts of the pairs inside each community: community c's triangle over its members' local indices, from base[c]. */
export interface InsideCounts {
  /** Fit tokens counted. */
  tokens: number;
  base: Int32Array;
  counts: Uint16Array | Uint32Array;
}

/**
 * The counts the greedy links communities by: every pair inside a community, on the
 * graph's sample (read from its triangle) plus as many other fit tokens as `budget`
 * pair increments allow (all of them when they fit, else evenly spaced ones). Only
 * pairs inside communities are counted, a small share of all pairs where communities
 * are small; where communities are much longer than a merged read, their inside
 * order is what the layout rests on, and the sample's noise shows in it
 * (docs/benchmarks.md, "Unseen generator settings").
 */
export function countInside(data: LayerTokens, g: Pick<ColinkGraph, "neurons" | "community" | "communities" | "members" | "start" | "pairs">, sample: Int32Array, budget: number): InsideCounts {
  const C = g.communities;
  const base = new Int32Array(C + 1);
  for (let c = 0; c < C; c++) {
    const m = g.start[c + 1] - g.start[c];
    base[c + 1] = base[c] + (m * (m - 1)) / 2;
  }
  const extra = otherTokens(data.tokens, sample);
  const perToken = insideWorkPerToken(data, g);
  const want = perToken > 0 ? Math.min(extra.length, Math.floor(budget / perToken)) : 0;
  const rows = want >= extra.length ? extra : want > 0 ? sampleTokens(extra.length, want).map((x) => extra[x]) : new Int32Array(0);
  const tokens = sample.length + rows.length;
  const counts = new (counterArray(tokens))(base[C]);
  const { rowBase, counts: sampled } = g.pairs;
  for (let c = 0; c < C; c++) {
    const mem = g.members.subarray(g.start[c], g.start[c + 1]);
    let e = base[c];
    for (let x = 0; x < mem.length - 1; x++) {
      const row = rowBase[mem[x]];
      for (let y = x + 1; y < mem.length; y++) counts[e++] = sampled[row + mem[y]];
    }
  }
  addInsidePairs(data, g, rows, base, counts);
  return { tokens, base, counts };
}

/** The fit tokens not in `sample` (ascending), in order. */
function otherTokens(tokens: number, sample: Int32Array): Int32Array {
  const out = new Int32Array(tokens - sample.length);
  let at = 0;
  let s = 0;
  for (let t = 0; t < tokens; t++) {
    if (s < sample.length && sample[s] === t) s++;
    else out[at++] = t;
  }
  return out;
}

/** Mean pairs per token inside communities: sum over communities of k(k-1)/2, k its active members. */
export function insideWorkPerToken(data: LayerTokens, g: Pick<ColinkGraph, "community" | "communities">): number {
  if (data.tokens === 0) return 0;
  const k = new Int32Array(g.communities);
  const touched = new Int32Array(g.communities);
  let pairs = 0;
  for (let t = 0; t < data.tokens; t++) {
    let nt = 0;
    for (let p = data.offsets[t]; p < data.offsets[t + 1]; p++) {
      const c = g.community[data.ids[p]];
      if (k[c]++ === 0) touched[nt++] = c;
    }
    for (let x = 0; x < nt; x++) {
      const m = k[touched[x]];
      pairs += (m * (m - 1)) / 2;
      k[touched[x]] = 0;
    }
  }
  return pairs / data.tokens;
}

/**
 * Adds, for the tokens `rows` of `data`, one to every pair of co-active neurons of the
 * same community in `counts` (community c's triangle at base[c]): per token, the
 * active ids are grouped by community (ids ascend, so each group's local indices
 * ascend) and each group's pairs are incremented in its own triangle.
 */
function addInsidePairs(
  data: LayerTokens,
  g: Pick<ColinkGraph, "neurons" | "community" | "communities" | "members" | "start">,
  rows: Int32Array,
  base: Int32Array,
  counts: Uint16Array | Uint32Array,
): void {
  const C = g.communities;
  const { community, start } = g;
  const { ids, offsets } = data;
  const local = new Int32Array(g.neurons);
  for (let c = 0; c < C; c++) for (let x = start[c]; x < start[c + 1]; x++) local[g.members[x]] = x - start[c];
  const k = new Int32Array(C);
  const at = new Int32Array(C);
  const touched = new Int32Array(C);
  const grouped = new Int32Array(g.neurons);
  for (let r = 0; r < rows.length; r++) {
    const from = offsets[rows[r]];
    const to = offsets[rows[r] + 1];
    let nt = 0;
    for (let p = from; p < to; p++) {
      const c = community[ids[p]];
      if (k[c]++ === 0) touched[nt++] = c;
    }
    let off = 0;
    for (let x = 0; x < nt; x++) {
      const c = touched[x];
      at[c] = off;
      off += k[c];
    }
    for (let p = from; p < to; p++) {
      const id = ids[p];
      grouped[at[community[id]]++] = local[id];
    }
    for (let x = 0; x < nt; x++) {
      const c = touched[x];
      const kc = k[c];
      k[c] = 0;
      if (kc < 2) continue;
      const m = start[c + 1] - start[c];
      const b0 = base[c];
      const end = at[c];
      for (let a = end - kc; a < end - 1; a++) {
        const i = grouped[a];
        // triangleRowBase(m)[i] + base[c], inline: row i of an m-member triangle
        const row = (b0 + i * m - ((i * (i + 1)) >> 1) - i - 1) | 0;
        let b = a + 1;
        for (; b + 3 < end; b += 4) {
          counts[row + grouped[b]]++;
          counts[row + grouped[b + 1]]++;
          counts[row + grouped[b + 2]]++;
          counts[row + grouped[b + 3]]++;
        }
        for (; b < end; b++) counts[row + grouped[b]]++;
      }
    }
  }
}

/**
 * Every community's pairs with a positive count in `inside`, by count descending,
 * one community after another: pairsByCountDesc over each community's triangle (its
 * members' local indices; members ascend, so the ties' local order is id order),
 * mapped back to ids.
 */
function insidePairs(g: ColinkGraph, inside: InsideCounts): SortedPairs {
  const lists: SortedPairs[] = [];
  let size = 0;
  for (let c = 0; c < g.communities; c++) {
    const m = g.start[c + 1] - g.start[c];
    const rowBase = triangleRowBase(m).map((r) => r + inside.base[c]);
    lists.push(pairsByCountDesc({ neurons: m, tokens: inside.tokens, rowBase, counts: inside.counts }, identityLayerOrder(m)));
    size += lists[c].pi.length;
  }
  const Pair = g.neurons <= 65536 ? Uint16Array : Uint32Array;
  const pi = new Pair(size);
  const pj = new Pair(size);
  let at = 0;
  for (let c = 0; c < g.communities; c++) {
    const mem = g.members.subarray(g.start[c], g.start[c + 1]);
    const l = lists[c];
    for (let e = 0; e < l.pi.length; e++, at++) {
      pi[at] = mem[l.pi[e]];
      pj[at] = mem[l.pj[e]];
    }
  }
  return { pi, pj };
}

/**
 * colink's order of the neurons not in `exclude` (pinned in DRAM, placed after
 * them): inside each Louvain community, the paper's greedy over all pairs of its
 * members (by their counts in `g.inside`, descending); then across communities,
 * the same greedy over the path ends left by the sample's counts (finishOrder), and
 * the paths laid out grouped by community. All pairs inside communities are a small
 * share of all pairs (0.42M of 60.6M on 7B layer 16), so this costs tens of milliseconds where the
 * all-pairs greedy costs most of a second, and it placed better on the 7B layer
 * measured (docs/benchmarks.md#placer).
 */
export function colinkOrder(g: ColinkGraph, exclude?: Uint8Array): Uint32Array {
  const linker = new PathLinker(g.neurons);
  const inside = g.inside;
  if (inside) {
    // each community's pairs without an excluded id, in the community's sorted order:
    // the same links as sorting the remaining members' pairs afresh
    const { pi, pj } = inside;
    for (let e = 0; e < pi.length; e++) if (!exclude || (!exclude[pi[e]] && !exclude[pj[e]])) linker.tryLink(pi[e], pj[e]);
    return finishOrder(g, linker, exclude);
  }
  const buf = new Uint32Array(g.neurons);
  for (let c = 0; c < g.communities; c++) {
    let m = 0;
    for (let x = g.start[c]; x < g.start[c + 1]; x++) if (!exclude?.[g.members[x]]) buf[m++] = g.members[x];
    if (m > 1) linkByCountDesc(linker, g.pairs, buf.subarray(0, m));
  }
  return finishOrder(g, linker, exclude);
}

/**
 * Completes an order from a linker holding some links: joins the open path ends the
 * way the paper would have (all pairs of ends by count, descending; only the ends'
 * pairs can still link), then lays out the paths grouped by community, communities
 * by total activation count (hot first), paths inside a community by their hottest
 * neuron; excluded ids follow in frequency order.
 */
export function finishOrder(g: ColinkGraph, linker: PathLinker, exclude?: Uint8Array): Uint32Array {
  const n = g.neurons;
  const ends: number[] = [];
  for (let i = 0; i < n; i++) if (!exclude?.[i] && linker.nb1[i] === -1) ends.push(i);
  linkByCountDesc(linker, g.pairs, Uint32Array.from(ends));
  let include: Uint8Array | undefined;
  if (exclude) include = Uint8Array.from(exclude, (x) => (x ? 0 : 1));
  const paths = linker.paths(include);
  const commHeat = new Float64Array(g.communities);
  for (let i = 0; i < n; i++) if (!exclude?.[i]) commHeat[g.community[i]] += g.freq[i];
  const key = paths.map((p) => {
    let hot = p[0];
    for (let x = 1; x < p.length; x++) if (g.freq[p[x]] > g.freq[hot]) hot = p[x];
    return { c: g.community[hot], heat: g.freq[hot], first: p[0] };
  });
  const pidx = paths.map((_, i) => i);
  pidx.sort((x, y) => {
    const kx = key[x];
    const ky = key[y];
    return commHeat[ky.c] - commHeat[kx.c] || kx.c - ky.c || ky.heat - kx.heat || kx.first - ky.first;
  });
  const order = new Uint32Array(n);
  let at = 0;
  for (const pi of pidx) {
    const p = paths[pi];
    for (let x = 0; x < p.length; x++) order[at++] = p[x];
  }
  if (exclude) {
    const rest = frequencyOrder(g.freq);
    for (let x = 0; x < n; x++) if (exclude[rest[x]]) order[at++] = rest[x];
  }
  return order;
}

/**
 * A hybrid of frequency order and linking, for devices whose break-even gap is long
 * compared with the layer (small bundles): the `block` hottest neurons that are not
 * pinned come first, hot-first, as one compact block (a token's hot neurons then
 * cost one short read); the others follow in colink's linked order; pinned ids go
 * last. `rank` is frequencyOrder(g.freq); pinned ids must be its first entries
 * (codesign pins the hottest). block >= the number of unpinned neurons gives
 * frequency order with the pinned ids moved to the end.
 */
export function hotBlockOrder(g: ColinkGraph, rank: Uint32Array, pinned: Uint8Array | undefined, block: number): Uint32Array {
  const n = g.neurons;
  const exclude = new Uint8Array(n);
  const order = new Uint32Array(n);
  let at = 0;
  let taken = 0;
  for (let x = 0; x < n && taken < block; x++) {
    const id = rank[x];
    if (pinned?.[id]) continue;
    exclude[id] = 1;
    order[at++] = id;
    taken++;
  }
  let free = 0;
  for (let i = 0; i < n; i++) {
    if (pinned?.[i]) exclude[i] = 1;
    if (!exclude[i]) free++;
  }
  if (free > 0) {
    // colinkOrder puts the linked neurons first, then the excluded ones: keep the linked part
    const linked = colinkOrder(g, exclude);
    order.set(linked.subarray(0, free), at);
    at += free;
  }
  if (pinned) for (let x = 0; x < n; x++) if (pinned[rank[x]]) order[at++] = rank[x];
  return order;
}


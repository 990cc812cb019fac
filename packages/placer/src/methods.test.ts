import { describe, expect, it } from "vitest";
import { autoPairTokens, countPairs, countPairsPopcount, type LayerTokens, releasePairs, sampleTokens } from "./cooccur.js";
import { PathLinker } from "./link.js";
import { buildColinkGraph, colinkOrder, countInside, frequencyOrder, identityLayerOrder, insideWorkPerToken, METHODS, neuralinkOrder } from "./methods.js";
import { placeLayer } from "./layer.js";
import { csr, dev, rng } from "./testkit.js";

/** 12 clusters of 8 neurons with shuffled ids; each token fires 2 whole clusters. */
function planted(seed: number): { data: LayerTokens; clusters: number[][] } {
  const r = rng(seed);
  const n = 96;
  const ids = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const clusters = Array.from({ length: 12 }, (_, c) => ids.slice(c * 8, c * 8 + 8));
  const tokens: number[][] = [];
  for (let t = 0; t < 400; t++) {
    const a = Math.floor(r() * 12);
    const b = (a + 1 + Math.floor(r() * 11)) % 12;
    tokens.push([...clusters[a], ...clusters[b]]);
  }
  return { data: csr(n, tokens), clusters };
}

function isPermutation(order: ArrayLike<number>, n: number): boolean {
  if (order.length !== n) return false;
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (order[i] < 0 || order[i] >= n || seen[order[i]]) return false;
    seen[order[i]] = 1;
  }
  return true;
}

function contiguous(order: ArrayLike<number>, cluster: number[]): boolean {
  const pos = cluster.map((id) => Array.prototype.indexOf.call(order, id) as number).sort((a, b) => a - b);
  return pos[pos.length - 1] - pos[0] === cluster.length - 1;
}

function randomTokens(n: number, count: number, seed: number): LayerTokens {
  const r = rng(seed);
  const tokens: number[][] = [];
  for (let t = 0; t < count; t++) tokens.push(Array.from({ length: 1 + Math.floor(r() * 12) }, () => Math.floor(r() ** 2 * n)));
  return csr(n, tokens);
}

describe("pair counting", () => {
  it("sparse counting and bit-packed popcount agree, and match a hand count", () => {
    const data = csr(5, [[0, 1, 2], [1, 2], [2, 4], [0, 4]]);
    const a = countPairs(data);
    const b = countPairsPopcount(data);
    expect(Array.from(a.counts)).toEqual(Array.from(b.counts));
    const at = (i: number, j: number) => a.counts[a.rowBase[i] + j];
    expect(at(0, 1)).toBe(1);
    expect(at(1, 2)).toBe(2);
    expect(at(2, 4)).toBe(1);
    expect(at(0, 4)).toBe(1);
    expect(at(3, 4)).toBe(0);
    const big = randomTokens(300, 200, 5);
    expect(Array.from(countPairs(big, undefined, 64).counts)).toEqual(Array.from(countPairsPopcount(big).counts));
  });

  it("a released triangle is reused zeroed, never with the old counts", () => {
    const big = randomTokens(300, 400, 6);
    const first = countPairs(big);
    const buffer = first.counts.buffer;
    releasePairs(first);
    const small = randomTokens(200, 50, 7);
    const again = countPairs(small);
    expect(again.counts.buffer).toBe(buffer);
    expect(Array.from(again.counts)).toEqual(Array.from(countPairsPopcount(small).counts));
  });

  it("the automatic pair sample spends the budget, within [minTokens, all tokens]", () => {
    const tokens = Array.from({ length: 1000 }, (_, t) => Array.from({ length: 10 }, (_, i) => (t + 7 * i) % 50));
    const data = csr(50, tokens); // 45 pairs per token
    expect(autoPairTokens(data, 45 * 600, 100)).toBe(600);
    expect(autoPairTokens(data, 45 * 10, 100)).toBe(100);
    expect(autoPairTokens(data, 45 * 1e6, 100)).toBe(1000);
  });
});

describe("PathLinker", () => {
  it("links only path ends of different paths", () => {
    const l = new PathLinker(4);
    expect(l.tryLink(0, 1)).toBe(true);
    expect(l.tryLink(1, 2)).toBe(true);
    expect(l.tryLink(2, 0)).toBe(false); // would close a cycle
    expect(l.tryLink(1, 3)).toBe(false); // 1 is interior
    expect(l.tryLink(3, 2)).toBe(true);
    expect(l.paths().map((p) => Array.from(p))).toEqual([[0, 1, 2, 3]]);
  });
});

describe("methods", () => {
  it("every method returns a permutation, with and without a cache budget", () => {
    const data = randomTokens(200, 300, 1);
    for (const method of METHODS)
      for (const budget of [0, 20]) {
        const r = placeLayer({ layer: 0, method, data, budget, device: dev, bundleBytes: 1024, colink: { pairTokens: 200 } });
        expect(isPermutation(r.order, 200)).toBe(true);
      }
    expect(isPermutation(neuralinkOrder(data), 200)).toBe(true);
    expect(Array.from(identityLayerOrder(4))).toEqual([0, 1, 2, 3]);
    expect(Array.from(frequencyOrder([1, 5, 5, 0]))).toEqual([1, 2, 0, 3]);
  });

  it("neuralink is the paper's method as written: dense P matrix, all pairs by P descending, greedy linking", () => {
    for (const seed of [1, 2, 3]) {
      const data = randomTokens(60, 150, seed);
      const n = data.neurons;
      const P = new Float64Array(n * n);
      for (let t = 0; t < data.tokens; t++)
        for (let p = data.offsets[t]; p < data.offsets[t + 1]; p++)
          for (let q = p + 1; q < data.offsets[t + 1]; q++) P[data.ids[p] * n + data.ids[q]] += 1 / data.tokens;
      const pairs: number[] = [];
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (P[i * n + j] > 0) pairs.push(i * n + j);
      pairs.sort((x, y) => P[y] - P[x] || x - y); // ties: lower i, then lower j
      const linker = new PathLinker(n);
      for (const x of pairs) linker.tryLink(Math.floor(x / n), x % n);
      const expected = linker.paths().flatMap((path) => Array.from(path));
      expect(Array.from(neuralinkOrder(data))).toEqual(expected);
    }
  });

  it("neuralink and colink recover planted clusters as contiguous runs", () => {
    const { data, clusters } = planted(42);
    const nl = neuralinkOrder(data);
    const g = buildColinkGraph(data, { k: 8 });
    expect(g.communities).toBe(12);
    const cl = colinkOrder(g);
    const placed = placeLayer({ layer: 0, method: "colink", data, budget: 0, device: dev, bundleBytes: 1024, colink: { k: 8 } });
    for (const c of clusters) {
      expect(contiguous(nl, c)).toBe(true);
      expect(contiguous(cl, c)).toBe(true);
      expect(contiguous(placed.order, c)).toBe(true);
    }
  });

  it("colink's pre-sorted community pairs give the orders that sorting per pinned set gives", () => {
    const data = planted(7).data;
    const g = buildColinkGraph(data, { k: 8 });
    expect(g.inside).not.toBeNull();
    const fresh = { ...g, inside: null };
    const r = rng(5);
    for (let trial = 0; trial < 6; trial++) {
      const mask = trial === 0 ? undefined : Uint8Array.from({ length: data.neurons }, () => (r() < 0.15 * trial ? 1 : 0));
      expect(Array.from(colinkOrder(g, mask))).toEqual(Array.from(colinkOrder(fresh, mask)));
    }
  });

  it("counts the pairs inside communities on the sample plus the other fit tokens, within a budget", () => {
    const data = randomTokens(300, 120, 4);
    const g = buildColinkGraph(data, { k: 6, pairTokens: 40 });
    // the graph's sample is 40 tokens; the inside lists were counted on all 120 (the default budget allows it)
    expect(g.pairs.tokens).toBe(40);
    expect(g.insideTokens).toBe(data.tokens);
    const agree = (inside: ReturnType<typeof countInside>, all: ReturnType<typeof countPairs>): number => {
      let checked = 0;
      for (let c = 0; c < g.communities; c++) {
        const mem = g.members.subarray(g.start[c], g.start[c + 1]);
        let e = inside.base[c];
        for (let x = 0; x < mem.length - 1; x++)
          for (let y = x + 1; y < mem.length; y++, e++) {
            expect(inside.counts[e]).toBe(all.counts[all.rowBase[mem[x]] + mem[y]]);
            checked++;
          }
      }
      return checked;
    };
    const sample = sampleTokens(data.tokens, 40);
    expect(agree(countInside(data, g, sample, Infinity), countPairs(data))).toBeGreaterThan(0);
    // a budget for 20 more tokens: the sample's 40 plus 20 evenly spaced others, counted as a pair count on those 60 says
    const budget = 20.5 * insideWorkPerToken(data, g);
    const limited = countInside(data, g, sample, budget);
    expect(limited.tokens).toBe(60);
    const others = Int32Array.from({ length: data.tokens }, (_, t) => t).filter((t) => !sample.includes(t));
    const rows = Int32Array.from([...sample, ...sampleTokens(others.length, 20).map((x) => others[x])]).sort();
    expect(agree(limited, countPairs(data, rows))).toBeGreaterThan(0);
    expect(countInside(data, g, sample, 0).tokens).toBe(40);
  });

  it("is deterministic", () => {
    const data = randomTokens(150, 200, 9);
    const a = placeLayer({ layer: 0, method: "colink", data, budget: 15, device: dev, bundleBytes: 1024, colink: { seed: 3 } });
    const b = placeLayer({ layer: 0, method: "colink", data, budget: 15, device: dev, bundleBytes: 1024, colink: { seed: 3 } });
    expect(Array.from(a.order)).toEqual(Array.from(b.order));
    expect(a.cache).toEqual(b.cache);
  });
});

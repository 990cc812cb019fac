/**
 * Planning benchmark: LayerPlanner.step (ids → slots → minus cache → runs → collapse
 * → cache admission/eviction) for one layer-token of a Llama-2-7B-shaped layer:
 * 11008 neurons, 24 KiB fp16 bundles, ~1100 active per token (10%), under ufs40.
 * Reports p50/p99 of the step time and its share of the simulated I/O time it plans.
 *
 *   node packages/loader/dist/bench/plan.js [--tokens 5000] [--seed 1]
 *
 * Tokens are synthetic with temporal reuse (60% of a token's ids come from the
 * previous token) and a skewed popularity (ids drawn as floor(N * u^2)), so the
 * cache sees hits and the runs are neither all-contiguous nor all-scattered.
 */
import { cacheSpecForPolicy, DEVICE_PROFILES, LayerCache, LayerPlanner, layoutFromOrder } from "@colink/core";
import { xorshift32 as rng } from "@colink/core";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

const N = 11008;
const ACTIVE = 1100;
const BUNDLE = 3 * 4096 * 2;
const tokens = arg("tokens", 5000);
const rand = rng(arg("seed", 1));

// Token stream, CSR.
const ids = new Uint32Array(tokens * ACTIVE);
const mark = new Uint8Array(N);
for (let t = 0; t < tokens; t++) {
  mark.fill(0);
  const base = t * ACTIVE;
  for (let i = 0; i < ACTIVE; i++) {
    let id: number;
    do {
      id = t > 0 && rand() < 0.6 ? ids[base - ACTIVE + Math.floor(rand() * ACTIVE)] : Math.floor(N * rand() ** 2);
    } while (mark[id]);
    mark[id] = 1;
    ids[base + i] = id;
  }
}

const device = DEVICE_PROFILES.ufs40;
const order = Array.from({ length: N }, (_, i) => i);
const perm = order.slice();
for (let i = N - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [perm[i], perm[j]] = [perm[j], perm[i]];
}
const freq = new Uint32Array(N);
for (const id of ids) freq[id]++;
const budget = Math.floor(0.1 * N);
const cases: [string, number[], "none" | "lru" | "pin" | "declared", boolean][] = [
  ["identity, no cache", order, "none", false],
  ["identity, lru 10%", order, "lru", false],
  ["shuffled, lru 10%", perm, "lru", false],
  ["identity, declared 5% pinned + 5% lru, gapfill", order, "declared", true],
];

const times = new Float64Array(tokens);
const ratio = new Float64Array(tokens);
const pct = (a: Float64Array, p: number) => a.slice().sort()[Math.max(0, Math.ceil(p * a.length) - 1)];
const rows: string[] = [];
for (const [label, ord, policy, gapfill] of cases) {
  const byFreq = Array.from({ length: N }, (_, i) => i).sort((a, b) => freq[b] - freq[a] || a - b);
  const declared = { pinned: byFreq.slice(0, budget / 2), lru: budget - Math.floor(budget / 2), gapfill };
  const spec = cacheSpecForPolicy(policy, budget, { neurons: N, declared, freq });
  const planner = new LayerPlanner(layoutFromOrder(ord, BUNDLE), device, new LayerCache(N, spec));
  // warm-up pass so the JIT has compiled step() before we time it
  for (let t = 0; t < Math.min(500, tokens); t++) planner.step(ids.subarray(t * ACTIVE, (t + 1) * ACTIVE));
  let reads = 0;
  for (let t = 0; t < tokens; t++) {
    const view = ids.subarray(t * ACTIVE, (t + 1) * ACTIVE);
    const t0 = process.hrtime.bigint();
    const r = planner.step(view);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    times[t] = us;
    ratio[t] = r.ioUs > 0 ? us / r.ioUs : 0;
    reads += r.reads;
  }
  rows.push(
    `| ${label} | ${pct(times, 0.5).toFixed(1)} | ${pct(times, 0.99).toFixed(1)} | ${(reads / tokens).toFixed(0)} | ${(pct(ratio, 0.5) * 100).toFixed(3)}% | ${(pct(ratio, 0.99) * 100).toFixed(3)}% |`,
  );
}
console.log(`${tokens} tokens, ${N} neurons, ${ACTIVE} active, ${BUNDLE}-byte bundles, device ${device.name}, cache budget ${budget} bundles`);
console.log("| case | step p50 us | step p99 us | reads/token | p50 share of simulated I/O | p99 share |");
console.log("|---|---|---|---|---|---|");
for (const r of rows) console.log(r);

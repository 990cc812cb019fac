/**
 * DRAM cache semantics, one definition shared by the placer's cost model, the
 * loader and the docs (docs/placement.md#declared-cache).
 *
 * A layer's cache holds whole bundles (one neuron each):
 * - `pinned` ids are resident from the start and never evicted;
 * - up to `lru` more bundles are kept by recency (least recently used evicted first);
 * - with `gapfill`, bundles that a merged read brought in only because they lay in
 *   its gap also enter the recency cache, just behind the token's active ones.
 *
 * Residency is tracked by *frames*: pinned ids own frames [0, P) and recency
 * entries reuse frames [P, P + lru), so a loader can keep the bytes of frame f at
 * offset f * bundleBytes of one arena. All state is typed arrays sized to the layer.
 */
import { fail } from "./errors.js";

export interface CacheSpec {
  /** Neuron ids held for good, in priority order (most valuable first). */
  pinned: number[];
  /** Bundles kept by recency, beyond the pinned ones. */
  lru: number;
  /** Whether gap bundles of merged reads enter the recency cache. */
  gapfill: boolean;
}

export const NO_CACHE: Readonly<CacheSpec> = Object.freeze({ pinned: [], lru: 0, gapfill: false });

/** Bundles a spec holds. */
export function cacheSize(spec: CacheSpec): number {
  return spec.pinned.length + spec.lru;
}

/** The per-layer budget in bundles for a cache fraction: floor(F x N). */
export function budgetForFraction(fraction: number, neurons: number): number {
  return Math.floor(fraction * neurons + 1e-9);
}

/**
 * Fits a declared spec to a budget of `budget` bundles. A larger budget gives the
 * extra bundles to the recency part; a smaller one keeps the spec's pinned share
 * (rounded down) from the front of `pinned`, the rest to recency.
 */
export function fitCacheToBudget(spec: CacheSpec, budget: number): CacheSpec {
  const total = cacheSize(spec);
  if (budget >= total) return { pinned: spec.pinned.slice(), lru: spec.lru + (budget - total), gapfill: spec.gapfill };
  const keepPinned = total === 0 ? 0 : Math.min(spec.pinned.length, Math.floor((budget * spec.pinned.length) / total));
  return { pinned: spec.pinned.slice(0, keepPinned), lru: budget - keepPinned, gapfill: spec.gapfill };
}

/** Checks a spec against a layer of `neurons` and an optional budget; `where` prefixes errors. */
export function validateCacheSpec(spec: CacheSpec, neurons: number, where: string, budget?: number): void {
  const seen = new Uint8Array(neurons);
  for (const id of spec.pinned) {
    if (!Number.isInteger(id) || id < 0 || id >= neurons)
      fail("BAD_FORMAT", `${where}: pinned id ${id} is out of range [0, ${neurons})`);
    if (seen[id]) fail("BAD_FORMAT", `${where}: pinned id ${id} appears twice`);
    seen[id] = 1;
  }
  if (!Number.isInteger(spec.lru) || spec.lru < 0) fail("BAD_FORMAT", `${where}: lru must be an integer >= 0, got ${JSON.stringify(spec.lru)}`);
  if (budget !== undefined && cacheSize(spec) > budget)
    fail(
      "BAD_FORMAT",
      `${where}: cache holds ${spec.pinned.length} pinned + ${spec.lru} lru = ${cacheSize(spec)} bundles, over the budget of ${budget}`,
    );
}

const NONE = -1;

/** Residency of one layer's bundles under a CacheSpec. */
export class LayerCache {
  readonly neurons: number;
  readonly pinnedCount: number;
  readonly lruCapacity: number;
  readonly gapfill: boolean;
  /** Frame holding each id, or -1. */
  readonly frameOf: Int32Array;
  /** 1 for pinned ids. */
  readonly pinned: Uint8Array;
  // Recency list over ids: head is most recent, tail least.
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private head = NONE;
  private tail = NONE;
  private lruCount = 0;
  private readonly freeFrames: Int32Array;
  private freeCount = 0;

  constructor(neurons: number, spec: CacheSpec) {
    validateCacheSpec(spec, neurons, "cache");
    this.neurons = neurons;
    this.pinnedCount = spec.pinned.length;
    this.lruCapacity = spec.lru;
    this.gapfill = spec.gapfill;
    this.frameOf = new Int32Array(neurons).fill(NONE);
    this.pinned = new Uint8Array(neurons);
    spec.pinned.forEach((id, i) => {
      this.pinned[id] = 1;
      this.frameOf[id] = i;
    });
    this.prev = new Int32Array(neurons).fill(NONE);
    this.next = new Int32Array(neurons).fill(NONE);
    this.freeFrames = new Int32Array(spec.lru);
    for (let f = spec.lru - 1; f >= 0; f--) this.freeFrames[this.freeCount++] = this.pinnedCount + f;
  }

  get capacity(): number {
    return this.pinnedCount + this.lruCapacity;
  }

  /** Bundles resident now (never more than capacity). */
  get size(): number {
    return this.pinnedCount + this.lruCount;
  }

  has(id: number): boolean {
    return this.frameOf[id] !== NONE;
  }

  private unlink(id: number): void {
    const p = this.prev[id];
    const n = this.next[id];
    if (p !== NONE) this.next[p] = n;
    else this.head = n;
    if (n !== NONE) this.prev[n] = p;
    else this.tail = p;
    this.prev[id] = this.next[id] = NONE;
  }

  private pushFront(id: number): void {
    this.prev[id] = NONE;
    this.next[id] = this.head;
    if (this.head !== NONE) this.prev[this.head] = id;
    this.head = id;
    if (this.tail === NONE) this.tail = id;
  }

  /**
   * Makes `id` the most recent entry, admitting it if absent. Pinned ids are left
   * alone. Returns the id evicted to make room, or -1. With lru = 0 nothing is admitted.
   */
  touch(id: number): number {
    if (this.pinned[id] || this.lruCapacity === 0) return NONE;
    if (this.frameOf[id] !== NONE) {
      this.promote(id);
      return NONE;
    }
    return this.admit(id);
  }

  /** touch() for an id known to be in the recency part (resident, not pinned). */
  promote(id: number): void {
    if (this.head === id) return;
    this.unlink(id);
    this.pushFront(id);
  }

  /**
   * touch() for an id known to be absent and not pinned, with lru > 0: admits it as
   * the most recent entry. Returns the id evicted to make room, or -1.
   */
  admit(id: number): number {
    let evicted = NONE;
    if (this.freeCount === 0) {
      evicted = this.tail;
      this.unlink(evicted);
      this.freeFrames[this.freeCount++] = this.frameOf[evicted];
      this.frameOf[evicted] = NONE;
      this.lruCount--;
    }
    this.frameOf[id] = this.freeFrames[--this.freeCount];
    this.pushFront(id);
    this.lruCount++;
    return evicted;
  }

  /** Recency entries from most to least recent (for tests and inspection). */
  recencyOrder(): number[] {
    const out: number[] = [];
    for (let id = this.head; id !== NONE; id = this.next[id]) out.push(id);
    return out;
  }
}

/** Cache policies a loader or an evaluation can run with. */
export type CachePolicy = "none" | "lru" | "pin" | "declared";

export const CACHE_POLICIES: readonly CachePolicy[] = ["none", "lru", "pin", "declared"];

/**
 * The cache a policy holds for one layer within `budget` bundles:
 * - none: nothing;
 * - lru: `budget` bundles by recency (neuron granularity, LLM-in-a-Flash style);
 * - pin: the `budget` most frequent neurons (by `freq`, ties to the lower id), static;
 * - declared: the placement's declared cache fitted to the budget (fitCacheToBudget);
 *   a layer that declares none falls back to lru.
 */
export function cacheSpecForPolicy(
  policy: CachePolicy,
  budget: number,
  layer: { neurons: number; declared?: CacheSpec; freq?: ArrayLike<number> },
): CacheSpec {
  const b = Math.max(0, Math.min(Math.floor(budget), layer.neurons));
  switch (policy) {
    case "none":
      return { pinned: [], lru: 0, gapfill: false };
    case "lru":
      return { pinned: [], lru: b, gapfill: false };
    case "pin": {
      const freq = layer.freq;
      if (!freq) fail("BAD_ARGUMENT", "the pin policy needs activation counts per neuron (none were given)");
      const ids = Array.from({ length: layer.neurons }, (_, i) => i);
      ids.sort((x, y) => freq[y] - freq[x] || x - y);
      return { pinned: ids.slice(0, b), lru: 0, gapfill: false };
    }
    case "declared":
      return layer.declared ? fitCacheToBudget(layer.declared, b) : { pinned: [], lru: b, gapfill: false };
    default:
      return fail("BAD_ARGUMENT", `unknown cache policy "${policy as string}": expected ${CACHE_POLICIES.join(", ")}`);
  }
}

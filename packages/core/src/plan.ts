/**
 * Read planning, one definition for the placer's cost model and the loader:
 *
 *   neuron ids → physical slots → minus cached bundles → runs of consecutive slots
 *   → access collapse → read requests, each costing latency + bytes / bandwidth.
 *
 * Access collapse merges two neighbouring runs when reading the gap between them
 * costs less than issuing another request (gap bytes / bandwidth < latency). Misses
 * so linked form a *chain*; a chain longer than the device's maximum request is
 * split where it costs least: into the partition of its misses into requests of at
 * most that size with the least total time (requests x latency + slots read x
 * transfer), found by dynamic programming in one pass. The result is the cheapest
 * way to read a token's misses: a gap the break-even rule leaves unread is never
 * worth reading, and inside a chain the partition is optimal. Bundles that a merged
 * read brings in only because they lie in its gap are *gap bundles*; with a
 * gap-filling cache they enter the recency cache (see cache.ts).
 *
 * `LayerPlanner.step` is the hot path of the loader (one call per layer per token):
 * it allocates nothing, and works on bitsets and typed arrays sized to the layer.
 */
import type { LayerCache } from "./cache.js";
import type { DeviceProfile } from "./device.js";
import { fail } from "./errors.js";

/** Where each neuron of a layer lives: slot = physical position in the layer's region. */
export interface LayerLayout {
  neurons: number;
  bundleBytes: number;
  /** slotOf[id] = physical slot of neuron id. */
  slotOf: Uint32Array;
  /** idAt[slot] = neuron id stored at that slot (the placement's order). */
  idAt: Uint32Array;
}

/** Builds a layout from a placement order (ids in physical order). */
export function layoutFromOrder(order: ArrayLike<number>, bundleBytes: number): LayerLayout {
  const n = order.length;
  const idAt = Uint32Array.from(order);
  const slotOf = new Uint32Array(n);
  for (let s = 0; s < n; s++) slotOf[idAt[s]] = s;
  return { neurons: n, bundleBytes, slotOf, idAt };
}

/**
 * The largest gap, in slots, worth reading through rather than issuing another
 * request: gap * bundleBytes / bandwidth < latency.
 */
export function maxGapSlots(device: DeviceProfile, bundleBytes: number): number {
  const breakEven = (device.latencyUs * 1e-6 * device.bandwidthBytesPerSec) / bundleBytes;
  // strictly cheaper to read through: gap < breakEven
  return Math.max(0, Math.ceil(breakEven) - 1);
}

/** Result of planning one layer-token. Arrays are views valid until the next step(). */
export interface StepResult {
  /** Distinct requested ids. */
  unique: number;
  /** Ids served from the cache (resident before this step), with their frames. */
  hits: number;
  hitIds: Uint32Array;
  hitFrames: Int32Array;
  /** Requested ids not in the cache, in slot order. */
  misses: number;
  missIds: Uint32Array;
  /** Read requests: first slot and number of slots, in slot order. */
  reads: number;
  readStart: Uint32Array;
  readSlots: Uint32Array;
  /** Slots read that were neither requested nor cached. */
  gapSlots: number;
  bytes: number;
  /** Simulated device time of the reads, microseconds. */
  ioUs: number;
  /** Ids admitted to the recency cache by this step, in order, with the frame each got. */
  admitted: number;
  admittedIds: Uint32Array;
  admittedFrames: Int32Array;
}

/**
 * Plans reads for one layer under a device profile and an optional cache, and
 * applies the cache's admission and eviction rules. One planner per layer.
 */
export class LayerPlanner {
  readonly layout: LayerLayout;
  readonly device: DeviceProfile;
  readonly cache: LayerCache | null;
  readonly maxGap: number;
  readonly maxRequestSlots: number;
  private readonly seen: Uint32Array; // generation stamps for de-duplication
  private gen = 0;
  private readonly missBits: Uint32Array; // bitset over slots
  // scratch of the chain split: miss slots, where the last request of the cheapest
  // partition of a chain's first k misses starts, and a monotone deque of candidate
  // starts i with their best[i] - x[i]
  private readonly missSlots: Int32Array;
  private readonly from: Int32Array;
  private readonly deque: Int32Array;
  private readonly dequeG: Float64Array;
  // pinnedBefore[s]: pinned bundles in slots [0, s). Pinned ids never change, so
  // without a recency part a read's gap bundles are counted from this, not walked.
  private readonly pinnedBefore: Int32Array | null;
  private readonly result: StepResult;

  constructor(layout: LayerLayout, device: DeviceProfile, cache: LayerCache | null = null) {
    if (cache && cache.neurons !== layout.neurons)
      fail("MISMATCH", `cache is for ${cache.neurons} neurons, layout has ${layout.neurons}`);
    this.layout = layout;
    this.device = device;
    this.cache = cache;
    this.maxGap = maxGapSlots(device, layout.bundleBytes);
    this.maxRequestSlots = Math.max(1, Math.floor(device.maxRequestBytes / layout.bundleBytes));
    const n = layout.neurons;
    this.seen = new Uint32Array(n);
    this.missBits = new Uint32Array((n + 31) >>> 5);
    this.missSlots = new Int32Array(n);
    this.from = new Int32Array(n + 1);
    this.deque = new Int32Array(n);
    this.dequeG = new Float64Array(n);
    this.pinnedBefore = null;
    if (cache && cache.lruCapacity === 0 && cache.pinnedCount > 0) {
      const before = new Int32Array(n + 1);
      for (let s = 0; s < n; s++) before[s + 1] = before[s] + cache.pinned[layout.idAt[s]];
      this.pinnedBefore = before;
    }
    this.result = {
      unique: 0,
      hits: 0,
      hitIds: new Uint32Array(n),
      hitFrames: new Int32Array(n),
      misses: 0,
      missIds: new Uint32Array(n),
      reads: 0,
      readStart: new Uint32Array(n),
      readSlots: new Uint32Array(n),
      gapSlots: 0,
      bytes: 0,
      ioUs: 0,
      admitted: 0,
      admittedIds: new Uint32Array(2 * n),
      admittedFrames: new Int32Array(2 * n),
    };
  }

  /**
   * Plans the reads for `ids` (any order, duplicates allowed) and updates the cache.
   * Throws a ColinkError for an id outside [0, neurons).
   */
  step(ids: ArrayLike<number>): StepResult {
    const { slotOf, idAt, neurons, bundleBytes } = this.layout;
    const r = this.result;
    const cache = this.cache;
    const seen = this.seen;
    const bits = this.missBits;
    if (++this.gen === 0xffffffff) {
      seen.fill(0);
      this.gen = 1;
    }
    const gen = this.gen;
    // unsigned integer arrays (the loader's and the traces') are range-checked in the
    // same pass that marks them; anything else is checked first
    const typed = ids instanceof Uint16Array || ids instanceof Uint32Array;
    if (!typed) {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (!(id >= 0 && id < neurons && Number.isInteger(id)))
          fail("BAD_ARGUMENT", `neuron id ${id} is out of range: layer has ${neurons} neurons`);
      }
    }
    let unique = 0;
    let hits = 0;
    let missCount = 0;
    const hitIds = r.hitIds;
    const hitFrames = r.hitFrames;
    const frameOf = cache ? cache.frameOf : null;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id >= neurons) {
        bits.fill(0); // nothing of this step may reach the next one
        fail("BAD_ARGUMENT", `neuron id ${id} is out of range: layer has ${neurons} neurons`);
      }
      if (seen[id] === gen) continue;
      seen[id] = gen;
      unique++;
      const frame = frameOf ? frameOf[id] : -1;
      if (frame >= 0) {
        hitIds[hits] = id;
        hitFrames[hits++] = frame;
      } else {
        const s = slotOf[id];
        bits[s >>> 5] |= 1 << (s & 31);
        missCount++;
      }
    }
    r.unique = unique;
    r.hits = hits;

    // Walk miss slots in order, cut chains at gaps not worth reading, split each
    // chain that exceeds the maximum request into its cheapest requests.
    let reads = 0;
    let misses = 0;
    let chain = 0; // index of the open chain's first miss
    const maxGap = this.maxGap;
    const missIds = r.missIds;
    const missSlots = this.missSlots;
    for (let w = 0; w < bits.length && misses < missCount; w++) {
      let word = bits[w];
      if (word === 0) continue;
      bits[w] = 0;
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word);
        word &= word - 1;
        const s = (w << 5) | bit;
        if (misses > chain && s - missSlots[misses - 1] - 1 > maxGap) {
          reads = this.splitChain(chain, misses, reads);
          chain = misses;
        }
        missSlots[misses] = s;
        missIds[misses++] = idAt[s];
      }
    }
    if (misses > chain) reads = this.splitChain(chain, misses, reads);
    const readStart = r.readStart;
    const readSlots = r.readSlots;
    r.misses = misses;
    r.reads = reads;

    let slotsRead = 0;
    let ioUs = 0;
    const lat = this.device.latencyUs;
    const usPerByte = 1e6 / this.device.bandwidthBytesPerSec;
    for (let i = 0; i < reads; i++) {
      slotsRead += readSlots[i];
      ioUs += lat + readSlots[i] * bundleBytes * usPerByte;
    }
    r.bytes = slotsRead * bundleBytes;
    r.ioUs = ioUs;

    // Cache update. Final recency order: misses (most recent), hits, gap bundles, older
    // entries. Gap admissions are capped so that they never evict this token's active
    // bundles, and hits are moved to the front before gap bundles are admitted, so a
    // hit is never evicted and re-admitted within one step (its frame stays valid).
    let gapSlots = 0;
    let admitted = 0;
    const useLru = cache !== null && cache.lruCapacity > 0;
    let gapRoom = 0;
    if (useLru) {
      let activeLru = misses;
      const pinned = cache.pinned;
      for (let i = 0; i < hits; i++) {
        const id = hitIds[i];
        if (!pinned[id]) {
          activeLru++;
          cache.promote(id);
        }
      }
      if (cache.gapfill) gapRoom = Math.max(0, cache.lruCapacity - activeLru);
    }
    // Without a recency part nothing is admitted, so the gap bundles are only counted:
    // every slot read is a miss, a pinned bundle, or a gap bundle.
    const scanGaps = cache !== null && cache.lruCapacity > 0;
    if (!scanGaps) {
      gapSlots = slotsRead - misses;
      const before = this.pinnedBefore;
      if (before) for (let i = 0; i < reads; i++) gapSlots -= before[readStart[i] + readSlots[i]] - before[readStart[i]];
    }
    // Every read starts and ends at a miss slot, and missIds are in slot order, so only
    // the slots strictly between consecutive misses of a read can be gap bundles:
    // scanning just those (not the miss slots) is the same walk, a third as long.
    const admittedIds = r.admittedIds;
    const admittedFrames = r.admittedFrames;
    for (let i = 0, m = 0; scanGaps && i < reads; i++) {
      const end = readStart[i] + readSlots[i];
      let prev = slotOf[missIds[m++]]; // = readStart[i]
      while (m < misses) {
        const next = slotOf[missIds[m]];
        if (next >= end) break;
        for (let s = prev + 1; s < next; s++) {
          const id = idAt[s];
          if (seen[id] === gen || frameOf![id] >= 0) continue;
          gapSlots++;
          if (gapRoom > 0) {
            gapRoom--;
            cache!.admit(id);
            admittedIds[admitted] = id;
            admittedFrames[admitted++] = frameOf![id];
          }
        }
        prev = next;
        m++;
      }
    }
    r.gapSlots = gapSlots;
    if (useLru) {
      const pinned = cache.pinned;
      if (admitted > 0) for (let i = 0; i < hits; i++) if (!pinned[hitIds[i]]) cache.promote(hitIds[i]);
      for (let i = 0; i < misses; i++) {
        const id = missIds[i];
        cache.admit(id);
        admittedIds[admitted] = id;
        admittedFrames[admitted++] = cache.frameOf[id];
      }
    }
    r.admitted = admitted;
    return r;
  }

  /**
   * Writes the requests of the chain of misses [a, b) (slot order, every gap worth
   * reading) from read index `reads` on, and returns the new read count. Within the
   * maximum request: one read. Beyond it: the partition into requests of at most
   * maxRequestSlots with the least latency x requests + transfer x slots. In units
   * of one slot's transfer time a request costs L = latency / transfer plus its
   * slots; with best[k] the cheapest cost of the chain's first k misses and x the
   * miss slots,
   *   best[j + 1] = L + x[j] + 1 + min over i of (best[i] - x[i])
   * over the i whose request [x[i], x[j]] fits: a window that only moves right, so a
   * deque of increasing values gives each minimum in O(1) (ties keep the later i,
   * so a run of consecutive slots splits front to back as a greedy walk would).
   */
  private splitChain(a: number, b: number, reads: number): number {
    const x = this.missSlots;
    const readStart = this.result.readStart;
    const readSlots = this.result.readSlots;
    const cap = this.maxRequestSlots;
    if (x[b - 1] - x[a] < cap) {
      readStart[reads] = x[a];
      readSlots[reads] = x[b - 1] - x[a] + 1;
      return reads + 1;
    }
    // in units of one slot's transfer time: a request costs L + its slots
    const L = (this.device.latencyUs * this.device.bandwidthBytesPerSec) / (this.layout.bundleBytes * 1e6);
    const c = b - a;
    const from = this.from;
    const dq = this.deque; // candidate starts (indices into x)
    const dqG = this.dequeG; // their best[i] - x[i], increasing from head to tail
    let head = 0;
    let tail = 0;
    let bj = 0; // best[j]
    for (let j = 0; j < c; j++) {
      const xj = x[a + j];
      const gj = bj - xj;
      while (tail > head && dqG[tail - 1] >= gj) tail--;
      dq[tail] = a + j;
      dqG[tail++] = gj;
      while (xj - x[dq[head]] >= cap) head++;
      bj = L + xj + 1 + dqG[head];
      from[j + 1] = dq[head] - a;
    }
    // the requests back to front, then reversed into slot order
    const first = reads;
    for (let j = c; j > 0; j = from[j]) {
      const i = from[j];
      readStart[reads] = x[a + i];
      readSlots[reads++] = x[a + j - 1] - x[a + i] + 1;
    }
    for (let lo = first, hi = reads - 1; lo < hi; lo++, hi--) {
      const s0 = readStart[lo];
      readStart[lo] = readStart[hi];
      readStart[hi] = s0;
      const n0 = readSlots[lo];
      readSlots[lo] = readSlots[hi];
      readSlots[hi] = n0;
    }
    return reads;
  }
}

/**
 * The Loader: per layer, ids of active neurons → their bundles, read with the shared
 * read plan (core/plan.ts) through a DRAM cache (core/cache.ts) and the I/O engine.
 *
 * Per load on a layer, in this order (the order matters, see plan.ts):
 *   1. LayerPlanner.step(ids): hits (with their frames), misses, merged reads, and
 *      the cache admissions of this step (with the frames they were given);
 *   2. hits are copied out of the cache arena *before* any admission overwrites a
 *      frame (an admission may take the frame of an entry evicted in this step);
 *   3. the reads run (at most queueDepth in flight); each read's bytes go to the
 *      output (requested ids) and to the arena (admitted ids still resident after
 *      the step: a later admission in the same step may have evicted an earlier one).
 * Loads on one layer are serialised (the plan and the arena are that layer's state);
 * loads on different layers run concurrently and share the queue depth.
 *
 * The cache budget (bytes) is split evenly across layers: each layer holds at most
 * floor(cacheBytes / layers / bundleBytes) bundles, so the arenas together never
 * exceed cacheBytes.
 */
import {
  type CachePolicy,
  type CacheSpec,
  ColinkError,
  cacheSpecForPolicy,
  checkRegionChunks,
  chunksCovering,
  crc32c,
  type DeviceProfile,
  fail,
  type ImageInfo,
  type ImageLayerInfo,
  type ImageTensorInfo,
  LayerCache,
  LayerPlanner,
  readImageInfo,
  type StepResult,
} from "@colink/core";
import { Bundles, type LoadPlan, OutputPool } from "./bundles.js";
import { PositionalReader, type ReadLease } from "./io.js";

export interface LoaderOptions {
  /** Device profile for read planning (access collapse, maximum request size). */
  device: DeviceProfile;
  /** DRAM cache budget in bytes for all layers together (default 0: no cache). */
  cacheBytes?: number;
  /** Cache policy (default "declared"; falls back to lru for layers that declare none). */
  policy?: CachePolicy;
  /** Reads in flight at once (default: the device profile's queue depth). */
  queueDepth?: number;
  /** Bypass the page cache with O_DIRECT where the platform allows it (default false). */
  direct?: boolean;
  /**
   * Check the CRC32C of every chunk a read touches (reads widen to the image's chunk
   * boundaries, default 64 KiB): corrupt data fails with a CHECKSUM error naming the
   * layer and chunk instead of being returned. Default false: the runtime path trusts
   * an image that `colink verify` passed; `colink read` turns it on.
   */
  verify?: boolean;
}

/** Counters since open (or since resetStats()). */
export interface LoaderStats {
  loads: number;
  /** Ids asked for (with duplicates) and distinct ids served. */
  requested: number;
  unique: number;
  hits: number;
  misses: number;
  reads: number;
  bytesRead: number;
  gapBundles: number;
  /** Simulated device time of the reads under the profile, microseconds. */
  simulatedIoUs: number;
  /** Bundles resident in the caches now, and their bytes (never above cacheBytes). */
  cachedBundles: number;
  cachedBytes: number;
  cacheBytesBudget: number;
  /** Read requests the I/O engine actually issued and their bytes (incl. pinned warm-up). */
  ioRequests: number;
  ioBytes: number;
  /** Whether reads bypass the page cache. */
  direct: boolean;
}

interface LayerState {
  info: ImageLayerInfo;
  planner: LayerPlanner;
  cache: LayerCache;
  spec: CacheSpec;
  /** Frame f of the cache at arena[f * bundleBytes, (f + 1) * bundleBytes). */
  arena: Uint8Array;
  /** Per id: generation stamp and unique output index of this load. */
  stamp: Uint32Array;
  outIndex: Int32Array;
  /** Per id: generation stamp when the id's frame must be filled by this load's reads. */
  fillStamp: Uint32Array;
  gen: number;
  /** Tail of the per-layer serialisation chain. */
  lock: Promise<void>;
  regionEnd: number;
}

/** An open image. Create with openImage(); see the package README. */
export class Loader {
  readonly info: ImageInfo;
  readonly device: DeviceProfile;
  readonly policy: CachePolicy;
  readonly cacheBytes: number;
  /** Cache budget per layer, bundles (the byte budget split evenly across layers). */
  readonly budgetBundles: number[];
  private readonly reader: PositionalReader;
  private readonly layers: LayerState[];
  private readonly pool: OutputPool;
  private readonly counters = {
    loads: 0,
    requested: 0,
    unique: 0,
    hits: 0,
    misses: 0,
    reads: 0,
    bytesRead: 0,
    gapBundles: 0,
    simulatedIoUs: 0,
  };
  private closed = false;
  private readonly verify: boolean;

  /** @internal use openImage() */
  constructor(info: ImageInfo, reader: PositionalReader, opts: LoaderOptions) {
    this.info = info;
    this.device = opts.device;
    this.policy = opts.policy ?? "declared";
    this.cacheBytes = Math.max(0, Math.floor(opts.cacheBytes ?? 0));
    this.reader = reader;
    this.verify = opts.verify === true;
    this.pool = new OutputPool(Math.max(4, (opts.queueDepth ?? opts.device.queueDepth) * 2));
    const perLayer = info.layers.length > 0 ? Math.floor(this.cacheBytes / info.layers.length) : 0;
    this.budgetBundles = [];
    this.layers = info.layers.map((l) => {
      const budget = Math.floor(perLayer / l.bundleBytes);
      this.budgetBundles.push(budget);
      const spec = cacheSpecForPolicy(this.policy, budget, { neurons: l.neurons, declared: l.cache, freq: l.freq });
      const cache = new LayerCache(l.neurons, spec);
      const planner = new LayerPlanner({ neurons: l.neurons, bundleBytes: l.bundleBytes, slotOf: l.slotOf, idAt: l.idAt }, opts.device, cache);
      return {
        info: l,
        planner,
        cache,
        spec,
        arena: new Uint8Array(cache.capacity * l.bundleBytes),
        stamp: new Uint32Array(l.neurons),
        outIndex: new Int32Array(l.neurons),
        fillStamp: new Uint32Array(l.neurons),
        gen: 0,
        lock: Promise.resolve(),
        regionEnd: l.regionOffset + l.regionLength,
      };
    });
  }

  /** Pinned bundles are resident from the start: reads them once, before the first load. */
  async warm(): Promise<void> {
    for (const st of this.layers) {
      const B = st.info.bundleBytes;
      const pinned = st.spec.pinned;
      if (pinned.length === 0) continue;
      // Read pinned bundles in slot order with the same collapse rules as any load.
      const plan = new LayerPlanner(st.planner.layout, this.device, null).step(pinned);
      await Promise.all(
        Array.from({ length: plan.reads }, async (_, r) => {
          const s0 = plan.readStart[r];
          const n = plan.readSlots[r];
          const lease = await this.readSlots(st, s0, n);
          try {
            for (let k = 0; k < n; k++) {
              const f = st.cache.frameOf[st.info.idAt[s0 + k]];
              if (f >= 0 && f < st.cache.pinnedCount) st.arena.set(lease.bytes.subarray(k * B, (k + 1) * B), f * B);
            }
          } finally {
            lease.release();
          }
        }),
      );
    }
  }

  private layerState(layer: number): LayerState {
    if (this.closed) fail("BAD_ARGUMENT", `${this.info.path}: loader used after close()`);
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layers.length)
      fail("NOT_FOUND", `${this.info.path}: layer ${layer} does not exist (image has layers 0..${this.layers.length - 1})`);
    return this.layers[layer];
  }

  /**
   * The bundles of exactly `ids` (any order, duplicates allowed and read once) of
   * `layer`, in the order asked. Rejects an unknown layer or an id out of range
   * before reading anything.
   */
  load(layer: number, ids: ArrayLike<number>): Promise<Bundles> {
    let st: LayerState;
    try {
      st = this.layerState(layer);
    } catch (e) {
      return Promise.reject(e);
    }
    const n = st.info.neurons;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(Number.isInteger(id) && id >= 0 && id < n))
        return Promise.reject(new ColinkError("BAD_ARGUMENT", `layer ${layer}: neuron id ${id} is out of range [0, ${n})`));
    }
    const own = Uint32Array.from(ids as ArrayLike<number>);
    const run = st.lock.then(() => this.loadLocked(st, own));
    st.lock = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async loadLocked(st: LayerState, ids: Uint32Array): Promise<Bundles> {
    const B = st.info.bundleBytes;
    const step: StepResult = st.planner.step(ids);
    if (++st.gen === 0xffffffff) {
      st.stamp.fill(0);
      st.fillStamp.fill(0);
      st.gen = 1;
    }
    const gen = st.gen;
    // Unique output index per id, first occurrence order.
    const index = new Int32Array(ids.length);
    let unique = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (st.stamp[id] !== gen) {
        st.stamp[id] = gen;
        st.outIndex[id] = unique++;
      }
      index[i] = st.outIndex[id];
    }
    const out = this.pool.take(Math.max(1, unique * B));
    // 2. Hits first: their frames may be taken by this step's admissions.
    for (let h = 0; h < step.hits; h++) {
      const f = step.hitFrames[h];
      out.set(st.arena.subarray(f * B, (f + 1) * B), st.outIndex[step.hitIds[h]] * B);
    }
    // Admissions to fill: only those whose frame still holds them after the step.
    for (let a = 0; a < step.admitted; a++) {
      const id = step.admittedIds[a];
      if (st.cache.frameOf[id] === step.admittedFrames[a]) st.fillStamp[id] = gen;
    }
    this.counters.loads++;
    this.counters.requested += ids.length;
    this.counters.unique += step.unique;
    this.counters.hits += step.hits;
    this.counters.misses += step.misses;
    this.counters.reads += step.reads;
    this.counters.bytesRead += step.bytes;
    this.counters.gapBundles += step.gapSlots;
    this.counters.simulatedIoUs += step.ioUs;
    // 3. Reads. Copy the plan's read list: the planner's arrays are reused by the next step.
    const plan: LoadPlan = {
      unique: step.unique,
      hits: step.hits,
      misses: step.misses,
      reads: step.reads,
      bytes: step.bytes,
      gapBundles: step.gapSlots,
      ioUs: step.ioUs,
    };
    const reads = step.reads;
    const starts = step.readStart.slice(0, reads);
    const lens = step.readSlots.slice(0, reads);
    const { idAt } = st.info;
    const one = async (r: number): Promise<void> => {
      const s0 = starts[r];
      const len = lens[r];
      const lease = await this.readSlots(st, s0, len);
      try {
        const bytes = lease.bytes;
        for (let k = 0; k < len; k++) {
          const id = idAt[s0 + k];
          const src = bytes.subarray(k * B, (k + 1) * B);
          if (st.stamp[id] === gen) out.set(src, st.outIndex[id] * B);
          if (st.fillStamp[id] === gen) st.arena.set(src, st.cache.frameOf[id] * B);
        }
      } finally {
        lease.release();
      }
    };
    // Wait for every read, even after one fails, so no read writes into the arena once
    // the next load on this layer runs.
    let failure: unknown = null;
    if (reads === 1) await one(0).catch((e) => (failure = e));
    else if (reads > 1) {
      const settled = await Promise.allSettled(Array.from({ length: reads }, (_, r) => one(r)));
      for (const x of settled) if (x.status === "rejected" && failure === null) failure = x.reason;
    }
    if (failure !== null) {
      // The step admitted bundles whose bytes never arrived: forget every recency entry
      // so that no later hit can serve them (pinned frames were filled at open and stay).
      this.resetRecency(st);
      throw failure;
    }
    return new Bundles(st.info, ids, out.subarray(0, unique * B), index, plan, (b) => this.pool.give(new Uint8Array(b.buffer)));
  }

  /**
   * Reads slots [s0, s0 + n) of a layer's region. With `verify`, the read widens to the
   * chunks covering it and each chunk's CRC32C is checked before any byte is used.
   */
  private async readSlots(st: LayerState, s0: number, n: number): Promise<ReadLease> {
    const B = st.info.bundleBytes;
    const { regionOffset } = st.info;
    if (!this.verify) return this.reader.read(regionOffset + s0 * B, n * B, regionOffset, st.regionEnd);
    const [c0, c1] = chunksCovering(st.info, s0 * B, (s0 + n) * B);
    const C = st.info.chunkBytes;
    const w0 = c0 * C;
    const w1 = Math.min(c1 * C, st.info.regionLength);
    const lease = await this.reader.read(regionOffset + w0, w1 - w0, regionOffset, st.regionEnd);
    try {
      checkRegionChunks(st.info, w0, lease.bytes, this.info.path);
    } catch (e) {
      lease.release();
      throw e;
    }
    return { bytes: lease.bytes.subarray(s0 * B - w0, (s0 + n) * B - w0), release: () => lease.release() };
  }

  private resetRecency(st: LayerState): void {
    st.cache = new LayerCache(st.info.neurons, st.spec);
    st.planner = new LayerPlanner(st.planner.layout, this.device, st.cache);
  }

  /** A dense tensor by name (embeddings, norms, attention, ...), freshly allocated. */
  async tensor(name: string): Promise<{ info: ImageTensorInfo; bytes: Uint8Array }> {
    if (this.closed) fail("BAD_ARGUMENT", `${this.info.path}: loader used after close()`);
    const t = this.info.tensors.find((x) => x.name === name);
    if (!t) fail("NOT_FOUND", `${this.info.path}: no dense tensor named "${name}"`);
    const bytes = new Uint8Array(t.length);
    for (let done = 0; done < t.length; ) {
      const n = Math.min(this.reader.maxReadBytes, t.length - done);
      const lease = await this.reader.read(t.offset + done, n, t.offset, t.offset + t.length);
      bytes.set(lease.bytes, done);
      lease.release();
      done += n;
    }
    if (this.verify && crc32c(bytes) !== t.crc32c)
      fail("CHECKSUM", `${this.info.path}: dense tensor "${name}" is corrupt (CRC32C mismatch)`, this.info.path);
    return { info: t, bytes };
  }

  /** The cache spec each layer runs with (after fitting the policy to the budget). */
  cacheSpec(layer: number): CacheSpec {
    return this.layerState(layer).spec;
  }

  stats(): LoaderStats {
    let cachedBundles = 0;
    let cachedBytes = 0;
    for (const st of this.layers) {
      cachedBundles += st.cache.size;
      cachedBytes += st.cache.size * st.info.bundleBytes;
    }
    return {
      ...this.counters,
      cachedBundles,
      cachedBytes,
      cacheBytesBudget: this.cacheBytes,
      ioRequests: this.reader.reads,
      ioBytes: this.reader.bytesRead,
      direct: this.reader.direct,
    };
  }

  resetStats(): void {
    for (const k of Object.keys(this.counters) as (keyof typeof this.counters)[]) this.counters[k] = 0;
  }

  /** Why O_DIRECT is not in use although asked for, if so. */
  get directNote(): string | undefined {
    return this.reader.directNote;
  }

  /** Waits for loads in flight, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.layers.map((l) => l.lock));
    await this.reader.close();
  }
}

/** Checks that every region and tensor of a parsed image lies inside the file. */
export function checkImageExtents(info: ImageInfo): void {
  const file = info.path;
  for (const l of info.layers) {
    if (l.regionLength < l.neurons * l.bundleBytes || l.regionOffset + l.regionLength > info.fileSize)
      fail(
        "BAD_FORMAT",
        `${file}: layer ${l.layer} region [${l.regionOffset}, ${l.regionOffset + l.regionLength}) does not fit ${l.neurons} bundles of ${l.bundleBytes} bytes inside the ${info.fileSize}-byte file (truncated image?)`,
        file,
      );
  }
  for (const t of info.tensors)
    if (t.offset + t.length > info.fileSize)
      fail("BAD_FORMAT", `${file}: tensor "${t.name}" ends at byte ${t.offset + t.length}, past the end of the ${info.fileSize}-byte file (truncated image?)`, file);
}

/** Opens a loader over an already parsed image (tests, or callers that parsed it). */
export async function openParsedImage(info: ImageInfo, opts: LoaderOptions): Promise<Loader> {
  checkImageExtents(info);
  const queueDepth = opts.queueDepth ?? opts.device.queueDepth;
  let maxBundle = 0;
  for (const l of info.layers) maxBundle = Math.max(maxBundle, l.bundleBytes);
  // The planner never issues a request above max(maxRequestBytes, one bundle); checked
  // reads widen by up to one chunk at each end.
  let maxChunk = 0;
  if (opts.verify) for (const l of info.layers) maxChunk = Math.max(maxChunk, l.chunkBytes);
  const maxReadBytes = Math.max(4096, opts.device.maxRequestBytes, maxBundle) + 2 * maxChunk;
  const reader = await PositionalReader.open(info.path, { queueDepth, maxReadBytes, direct: opts.direct });
  const loader = new Loader(info, reader, { ...opts, queueDepth });
  try {
    await loader.warm();
  } catch (e) {
    await loader.close();
    throw e;
  }
  return loader;
}

/**
 * Opens a colink image: validates superblock, index and version (core
 * readImageInfo), checks every region lies inside the file, reads the pinned part
 * of the cache, and returns a Loader. Close it with close().
 */
export async function openImage(file: string, opts: LoaderOptions): Promise<Loader> {
  return openParsedImage(await readImageInfo(file), opts);
}

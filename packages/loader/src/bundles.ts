/**
 * What a load returns: the bundles of the ids asked, as views into one pooled
 * buffer, and the pool those buffers come from (power-of-two size classes, so
 * steady-state loads allocate no buffers).
 */
import { fail, type ImageLayerInfo } from "@colink/core";

/** What the read plan of one load did (the same numbers the cost model sums). */
export interface LoadPlan {
  unique: number;
  hits: number;
  misses: number;
  reads: number;
  bytes: number;
  gapBundles: number;
  /** Simulated device time of the reads, microseconds. */
  ioUs: number;
}

/**
 * The bundles of one load, in the order asked. `bundle(i)` and `part(i, name)` are
 * views into one buffer owned by this object: they stay valid until `release()`,
 * after which the buffer is reused by a later load. Never releasing is safe (the
 * buffer is then garbage-collected), it only costs an allocation per load.
 */
export class Bundles {
  readonly layer: number;
  /** Number of entries (= ids asked for, duplicates included). */
  readonly count: number;
  readonly bundleBytes: number;
  /** The ids, in the order asked. */
  readonly ids: Uint32Array;
  /** Distinct bundles, in first-occurrence order; entry i is unique bundle index[i]. */
  readonly data: Uint8Array;
  readonly index: Int32Array;
  /** The read plan this load ran. */
  readonly plan: LoadPlan;
  private readonly parts: ImageLayerInfo["parts"];
  private readonly onRelease: ((b: Uint8Array) => void) | null;
  private released = false;

  constructor(
    layer: ImageLayerInfo,
    ids: Uint32Array,
    data: Uint8Array,
    index: Int32Array,
    plan: LoadPlan,
    onRelease: ((b: Uint8Array) => void) | null,
  ) {
    this.plan = plan;
    this.layer = layer.layer;
    this.count = ids.length;
    this.bundleBytes = layer.bundleBytes;
    this.parts = layer.parts;
    this.ids = ids;
    this.data = data;
    this.index = index;
    this.onRelease = onRelease;
  }

  private check(i: number): void {
    if (this.released) fail("BAD_ARGUMENT", "bundles used after release()");
    if (!(i >= 0 && i < this.count)) fail("BAD_ARGUMENT", `bundle index ${i} out of range [0, ${this.count})`);
  }

  /** The stored bytes of the i-th asked neuron's bundle. */
  bundle(i: number): Uint8Array {
    this.check(i);
    const off = this.index[i] * this.bundleBytes;
    return this.data.subarray(off, off + this.bundleBytes);
  }

  /** The stored bytes of one part (e.g. "gate") of the i-th bundle. */
  part(i: number, name: string): Uint8Array {
    this.check(i);
    const p = this.parts.find((x) => x.name === name);
    if (!p) fail("NOT_FOUND", `bundle has no part "${name}": expected one of ${this.parts.map((x) => x.name).join(", ")}`);
    const off = this.index[i] * this.bundleBytes + p.offset;
    return this.data.subarray(off, off + p.bytes);
  }

  /**
   * One part as a typed view of its stored elements: Float32Array for f32, Uint16Array
   * (raw bits) for f16/bf16, Uint8Array (blocks) for q8_0/q4_0. A view, no copy, when
   * the part is aligned for its element size (the packer aligns parts); otherwise a copy.
   */
  typed(i: number, name: string): Float32Array | Uint16Array | Uint8Array {
    const bytes = this.part(i, name);
    const dtype = this.parts.find((x) => x.name === name)!.dtype;
    const size = dtype === "f32" ? 4 : dtype === "f16" || dtype === "bf16" ? 2 : 1;
    if (size === 1) return bytes;
    const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
    return size === 4 ? new Float32Array(src.buffer, src.byteOffset, src.byteLength / 4) : new Uint16Array(src.buffer, src.byteOffset, src.byteLength / 2);
  }

  /** Gives the buffer back for reuse; views obtained before become invalid. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease?.(this.data);
  }
}

/** Output buffers by power-of-two size class, so steady-state loads allocate none. */
export class OutputPool {
  private readonly classes = new Map<number, Uint8Array[]>();
  private readonly maxPerClass: number;
  constructor(maxPerClass: number) {
    this.maxPerClass = maxPerClass;
  }
  take(bytes: number): Uint8Array {
    const cls = bytes <= 4096 ? 4096 : 2 ** Math.ceil(Math.log2(bytes));
    const list = this.classes.get(cls);
    const buf = list?.pop() ?? new Uint8Array(cls);
    return buf;
  }
  give(buf: Uint8Array): void {
    const cls = buf.byteLength;
    let list = this.classes.get(cls);
    if (!list) this.classes.set(cls, (list = []));
    // Keep many small buffers (concurrent loads) but few large ones (bounded memory).
    const keep = cls > 1 << 20 ? Math.min(4, this.maxPerClass) : this.maxPerClass;
    if (list.length < keep) list.push(buf);
  }
}

/**
 * Replay: every (held-out) token of a trace, layer by layer, through the real
 * loader, as a sparse-inference runtime would load them. Per token it sums over the
 * layers the read plan's numbers (requests, bytes, hits, simulated device time:
 * core/simulate.ts TokenStats, so they mean what the placer's evaluation means) and
 * measures the wall time of the real loads.
 *
 * Trace record batches come one layer at a time for a chunk of tokens (docs/traces.md);
 * a chunk's layers are gathered, then its tokens are replayed layer 0..L-1 each.
 */
import {
  type CachePolicy,
  type DeviceProfile,
  type Distribution,
  distribution,
  fail,
  type ImageInfo,
  readImageInfo,
  resolveDeviceProfile,
  summarize,
  TokenStats,
  type TraceChunk,
  TraceReader,
} from "@colink/core";
import { openParsedImage } from "./loader.js";

export interface ReplayOptions {
  /** One or two images of the same model: paths, or images already parsed (benchmarks). */
  images: (string | ImageInfo)[];
  traces: string;
  /** A profile, or a name / JSON file for resolveDeviceProfile. */
  device: DeviceProfile | string;
  /** DRAM budget for all layers together, bytes (split evenly across layers). */
  cacheBytes: number;
  policy?: CachePolicy;
  /** 1 = held-out tokens (default), 0 = fit tokens, "all" = every token. */
  split?: 0 | 1 | "all";
  maxTokens?: number;
  queueDepth?: number;
  direct?: boolean;
  /** Called once per replayed token (for progress). */
  onToken?: () => void;
}

export interface ReplayImageResult {
  image: string;
  placement: string;
  tokens: number;
  reads_per_token: Distribution;
  bytes_per_token: Distribution;
  io_ms_per_token: Distribution;
  hit_rate: Distribution;
  wall_ms_per_token: Distribution;
  /** One request per layer for all active bundles, no cache: the floor of io_ms. */
  bound_io_ms_per_token: Distribution;
  /** Cache bundles per layer (per-layer budget) and whether reads bypassed the page cache. */
  cache_bundles_per_layer: number;
  direct: boolean;
}

export interface ReplayResult {
  reads_per_token: Distribution;
  bytes_per_token: Distribution;
  io_ms_per_token: Distribution;
  hit_rate: Distribution;
  wall_ms_per_token: Distribution;
  traces: string;
  device: string;
  policy: CachePolicy;
  cache_bytes: number;
  split: string;
  /** "model" when the trace's model id matched the image's; "shape" for traces without one. */
  checked: "model" | "shape";
  images: ReplayImageResult[];
  /** Second image / first image, per metric mean (two images only). */
  ratios?: Record<string, number>;
  notes: string[];
}

/** Checks that a trace fits an image; returns what could be checked. */
function checkTraceAgainstImage(
  meta: { modelId: string; layers: number; neurons: number },
  info: { path: string; modelId: string; layers: { neurons: number }[] },
  traces: string,
): "model" | "shape" {
  if (meta.layers !== info.layers.length || info.layers.some((l) => l.neurons !== meta.neurons))
    fail(
      "MISMATCH",
      `${traces}: trace is ${meta.layers} layers x ${meta.neurons} neurons, image ${info.path} has ${info.layers.length} layers x ${info.layers[0]?.neurons ?? 0} neurons`,
      traces,
    );
  if (meta.modelId === "") return "shape";
  if (meta.modelId !== info.modelId)
    fail("MISMATCH", `${traces}: trace is of model "${meta.modelId}", image ${info.path} holds "${info.modelId}"`, traces);
  return "model";
}

async function replayOne(
  image: string | ImageInfo,
  opts: ReplayOptions,
  device: DeviceProfile,
): Promise<{ result: ReplayImageResult; checked: "model" | "shape"; notes: string[] }> {
  const notes: string[] = [];
  const info = typeof image === "string" ? await readImageInfo(image) : image;
  const file = info.path;
  const reader = await TraceReader.open(opts.traces);
  let checked: "model" | "shape";
  try {
    checked = checkTraceAgainstImage(reader.meta, info, opts.traces);
  } catch (e) {
    await reader.close();
    throw e;
  }
  const loader = await openParsedImage(info, {
    device,
    cacheBytes: opts.cacheBytes,
    policy: opts.policy ?? "declared",
    queueDepth: opts.queueDepth,
    direct: opts.direct,
  });
  if (opts.direct && loader.directNote) notes.push(`${file}: ${loader.directNote}`);
  const L = info.layers.length;
  const stats = new TokenStats();
  let wall = new Float64Array(1024);
  const want = opts.split ?? 1;
  const max = opts.maxTokens ?? Number.POSITIVE_INFINITY;
  const lat = device.latencyUs;
  const usPerByte = 1e6 / device.bandwidthBytesPerSec;
  let pending: (TraceChunk | undefined)[] = new Array(L);
  let have = 0;
  let t = 0;
  try {
    for await (const chunk of reader.chunks()) {
      if (pending[chunk.layer] !== undefined)
        fail("BAD_FORMAT", `${opts.traces}: layer ${chunk.layer} appears twice before every layer of its token chunk did`, opts.traces);
      pending[chunk.layer] = chunk;
      if (++have < L) continue;
      const rows = pending[0]!.seq.length;
      for (const c of pending)
        if (c!.seq.length !== rows) fail("BAD_FORMAT", `${opts.traces}: layers of one token chunk differ in row count`, opts.traces);
      for (let r = 0; r < rows && t < max; r++) {
        if (want !== "all" && pending[0]!.split[r] !== want) continue;
        stats.ensure(t);
        if (t >= wall.length) {
          const w = new Float64Array(wall.length * 2);
          w.set(wall);
          wall = w;
        }
        const t0 = performance.now();
        for (let l = 0; l < L; l++) {
          const c = pending[l]!;
          const b = await loader.load(l, c.ids.subarray(c.offsets[r], c.offsets[r + 1]));
          const p = b.plan;
          stats.reads[t] += p.reads;
          stats.bytes[t] += p.bytes;
          stats.ioUs[t] += p.ioUs;
          stats.hits[t] += p.hits;
          stats.unique[t] += p.unique;
          if (p.unique > 0) stats.boundUs[t] += lat + p.unique * info.layers[l].bundleBytes * usPerByte;
          b.release();
        }
        wall[t] = performance.now() - t0;
        stats.tokens = ++t;
        opts.onToken?.();
      }
      pending = new Array(L);
      have = 0;
      if (t >= max) break;
    }
    if (have !== 0) fail("BAD_FORMAT", `${opts.traces}: the last token chunk lacks some layers (truncated trace?)`, opts.traces);
  } finally {
    await reader.close();
    await loader.close();
  }
  if (t === 0) notes.push(`${opts.traces}: no tokens in the selected split; nothing was replayed`);
  const s = summarize(stats);
  return {
    checked,
    notes,
    result: {
      image: file,
      placement: info.placementMethod,
      tokens: s.tokens,
      reads_per_token: s.reads_per_token,
      bytes_per_token: s.bytes_per_token,
      io_ms_per_token: s.io_ms_per_token,
      hit_rate: s.hit_rate,
      wall_ms_per_token: distribution(wall, t),
      bound_io_ms_per_token: s.bound_io_ms_per_token,
      cache_bundles_per_layer: loader.budgetBundles[0] ?? 0,
      direct: loader.stats().direct,
    },
  };
}

/** Replays a trace through one or two images; see ReplayOptions. */
export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  if (opts.images.length < 1 || opts.images.length > 2)
    fail("BAD_ARGUMENT", `replay takes one or two images, got ${opts.images.length}`);
  if (!(opts.cacheBytes >= 0)) fail("BAD_ARGUMENT", `cache budget must be >= 0 bytes, got ${opts.cacheBytes}`);
  const device = typeof opts.device === "string" ? await resolveDeviceProfile(opts.device) : opts.device;
  const images: ReplayImageResult[] = [];
  const notes: string[] = [];
  let checked: "model" | "shape" = "model";
  for (const file of opts.images) {
    const r = await replayOne(file, opts, device);
    images.push(r.result);
    notes.push(...r.notes);
    checked = r.checked;
  }
  if (checked === "shape")
    notes.push(`${opts.traces}: the trace carries no model id (imported from .npy); only layer count and neurons per layer were checked`);
  const first = images[0];
  const result: ReplayResult = {
    // the first image's metrics also at the top level, for scripts that replay one image
    reads_per_token: first.reads_per_token,
    bytes_per_token: first.bytes_per_token,
    io_ms_per_token: first.io_ms_per_token,
    hit_rate: first.hit_rate,
    wall_ms_per_token: first.wall_ms_per_token,
    traces: opts.traces,
    device: device.name,
    policy: opts.policy ?? "declared",
    cache_bytes: opts.cacheBytes,
    split: opts.split === 0 ? "fit" : opts.split === "all" ? "all" : "heldout",
    checked,
    images,
    notes,
  };
  if (images.length === 2) {
    const [a, b] = images;
    const ratio = (x: number, y: number): number => (x === 0 ? (y === 0 ? 1 : Number.POSITIVE_INFINITY) : y / x);
    result.ratios = {
      reads_per_token: ratio(a.reads_per_token.mean, b.reads_per_token.mean),
      bytes_per_token: ratio(a.bytes_per_token.mean, b.bytes_per_token.mean),
      io_ms_per_token: ratio(a.io_ms_per_token.mean, b.io_ms_per_token.mean),
      hit_rate: ratio(a.hit_rate.mean, b.hit_rate.mean),
      wall_ms_per_token: ratio(a.wall_ms_per_token.mean, b.wall_ms_per_token.mean),
      bound_io_ms_per_token: ratio(a.bound_io_ms_per_token.mean, b.bound_io_ms_per_token.mean),
    };
  }
  return result;
}

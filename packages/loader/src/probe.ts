/**
 * `colink device probe PATH`: random positional reads of an existing file at request
 * sizes 4 KiB..1 MiB and queue depths 1..32, through the loader's own I/O engine
 * (O_DIRECT where possible), and a device profile fitted to them:
 *   latencyUs            mean latency of a 4 KiB read at queue depth 1
 *   bandwidthBytesPerSec best throughput at 1 MiB over the depths tried
 *   queueDepth           the depth with the most 4 KiB reads per second
 *   maxRequestBytes      the smallest size whose depth-1 throughput reaches 80% of
 *                        the best (larger requests buy nothing), within [64 KiB, 1 MiB]
 * The page cache answering is flagged three ways: reads not using O_DIRECT, a 4 KiB
 * read faster than 10 us (no storage is), or a second pass over the same offsets 2x
 * faster than the first (also catches a cache in the device or the hypervisor).
 */
import {
  type CommonArgs,
  type DeviceProfile,
  fail,
  note,
  report,
  table,
  validateDeviceProfile,
  writeJsonAtomic,
} from "@colink/core";
import { DIRECT_ALIGN, PositionalReader } from "./io.js";
import { xorshift32 as rng } from "@colink/core";

export const PROBE_SIZES = [4096, 16384, 65536, 262144, 1048576];
export const PROBE_DEPTHS = [1, 4, 16, 32];

export interface ProbePoint {
  bytes: number;
  depth: number;
  requests: number;
  /** Mean latency of one request, microseconds. */
  latency_us: number;
  /** Throughput, bytes per second, and requests per second. */
  bandwidth: number;
  iops: number;
}

export interface ProbeResult {
  path: string;
  direct: boolean;
  points: ProbePoint[];
  profile: DeviceProfile;
  page_cache_suspected: boolean;
  warnings: string[];
}

export interface ProbeOptions {
  path: string;
  direct?: boolean;
  /** Measuring time per point, seconds. */
  seconds?: number;
  seed?: number;
  sizes?: number[];
  depths?: number[];
}

async function measure(reader: PositionalReader, bytes: number, depth: number, budgetMs: number, offsets: () => number): Promise<ProbePoint> {
  let requests = 0;
  let latencySum = 0;
  const start = performance.now();
  const deadline = start + budgetMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const off = offsets();
      const t0 = performance.now();
      const lease = await reader.read(off, bytes);
      latencySum += performance.now() - t0;
      lease.release();
      requests++;
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  const secs = (performance.now() - start) / 1000;
  return {
    bytes,
    depth,
    requests,
    latency_us: requests > 0 ? (latencySum * 1000) / requests : 0,
    bandwidth: (requests * bytes) / secs,
    iops: requests / secs,
  };
}

export async function probeDevice(opts: ProbeOptions): Promise<ProbeResult> {
  const sizes = opts.sizes ?? PROBE_SIZES;
  const depths = opts.depths ?? PROBE_DEPTHS;
  const maxSize = Math.max(...sizes);
  const reader = await PositionalReader.open(opts.path, { queueDepth: Math.max(...depths), maxReadBytes: maxSize, direct: opts.direct ?? true });
  const warnings: string[] = [];
  try {
    if (reader.size < 4 * maxSize)
      fail("BAD_ARGUMENT", `${opts.path}: file is ${reader.size} bytes; probing needs at least ${4 * maxSize} (a large file on the storage to measure)`, opts.path);
    if (opts.direct !== false && !reader.direct && reader.directNote) warnings.push(reader.directNote);
    if (!reader.direct) warnings.push("reads go through the page cache: cached parts of the file answer from RAM, so numbers can be optimistic");
    const rand = rng(opts.seed ?? 1);
    const budgetMs = (opts.seconds ?? 0.3) * 1000;
    const blocks = (bytes: number) => Math.floor((reader.size - bytes) / DIRECT_ALIGN) + 1;
    const offsetsFor = (bytes: number) => () => Math.floor(rand() * blocks(bytes)) * DIRECT_ALIGN;

    // Page-cache check: the same 4 KiB offsets twice at depth 1.
    const fixed = Array.from({ length: 200 }, offsetsFor(4096));
    const pass = async (): Promise<number> => {
      const t0 = performance.now();
      for (const off of fixed) (await reader.read(off, 4096)).release();
      return ((performance.now() - t0) * 1000) / fixed.length;
    };
    for (let i = 0; i < 50; i++) (await reader.read(offsetsFor(4096)(), 4096)).release(); // warm up the code paths
    const first = await pass();
    const second = await pass();

    const points: ProbePoint[] = [];
    for (const bytes of sizes) for (const depth of depths) points.push(await measure(reader, bytes, depth, budgetMs, offsetsFor(bytes)));

    const at = (b: number, d: number) => points.find((p) => p.bytes === b && p.depth === d);
    const small = at(Math.min(...sizes), 1)!;
    const best = Math.max(...points.filter((p) => p.bytes === maxSize).map((p) => p.bandwidth));
    const bestIops = points.filter((p) => p.bytes === Math.min(...sizes)).sort((a, b) => b.iops - a.iops)[0];
    const qd1 = points.filter((p) => p.depth === Math.min(...depths)).sort((a, b) => a.bytes - b.bytes);
    const knee = qd1.find((p) => p.bandwidth >= 0.8 * Math.max(...qd1.map((q) => q.bandwidth)))?.bytes ?? 512 * 1024;
    let suspected = false;
    if (small.latency_us < 10) {
      suspected = true;
      warnings.push(`4 KiB reads take ${small.latency_us.toFixed(1)} us: that is the page cache (or RAM), not storage`);
    }
    if (second < first / 2) {
      suspected = true;
      const who = reader.direct ? "a cache below the OS (device or hypervisor) answers" : "the page cache answers";
      warnings.push(`re-reading the same offsets was ${(first / second).toFixed(1)}x faster (${first.toFixed(1)} → ${second.toFixed(1)} us): ${who}`);
    }
    const profile = validateDeviceProfile(
      {
        name: `probed:${opts.path}`,
        description: `measured by colink device probe${reader.direct ? " (O_DIRECT)" : " (page cache not bypassed)"}`,
        latencyUs: Number(small.latency_us.toFixed(2)),
        bandwidthBytesPerSec: Math.round(best),
        maxRequestBytes: Math.min(1 << 20, Math.max(65536, knee)),
        queueDepth: bestIops.depth,
        source: `colink device probe ${opts.path}`,
      },
      "probe",
    );
    return { path: opts.path, direct: reader.direct, points, profile, page_cache_suspected: suspected, warnings };
  } finally {
    await reader.close();
  }
}

export async function probeCli(a: CommonArgs & { path: string; out?: string; direct: boolean; seconds: number; seed: number }): Promise<void> {
  if (!(a.seconds > 0)) fail("BAD_ARGUMENT", `--seconds must be > 0, got ${a.seconds}`);
  const r = await probeDevice({ path: a.path, direct: a.direct, seconds: a.seconds, seed: a.seed });
  for (const w of r.warnings) note(a, `warning: ${w}`);
  if (a.out) await writeJsonAtomic(a.out, r.profile);
  report(a, r, () => {
    const rows = r.points.map((p) => [
      p.bytes >= 1 << 20 ? `${p.bytes >> 20} MiB` : `${p.bytes >> 10} KiB`,
      p.depth,
      p.requests,
      p.latency_us.toFixed(1),
      (p.bandwidth / 1e6).toFixed(1),
      p.iops.toFixed(0),
    ]);
    const prof = r.profile;
    return [
      `${r.path}: ${r.direct ? "O_DIRECT" : "through the page cache"}`,
      table(["size", "depth", "requests", "latency us", "MB/s", "IOPS"], rows),
      `profile: latencyUs ${prof.latencyUs}, bandwidth ${(prof.bandwidthBytesPerSec / 1e9).toFixed(2)} GB/s, maxRequestBytes ${prof.maxRequestBytes}, queueDepth ${prof.queueDepth}${a.out ? ` → ${a.out}` : ""}`,
    ].join("\n");
  });
}

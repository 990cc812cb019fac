/** `colink replay`: option handling and the text report around replay(). */
import { type CachePolicy, type CommonArgs, cacheSize, fail, note, progress, readImageInfo, readTraceMeta, report, table } from "@colink/core";
import { type ReplayResult, replay } from "./replay.js";

export interface ReplayArgs extends CommonArgs {
  image: string[];
  traces: string;
  device: string;
  /** Budget for all layers; undefined: what the images declare (declaredCacheBytes). */
  cacheMib?: number;
  policy: CachePolicy;
  split: "heldout" | "fit" | "all";
  maxTokens?: number;
  queueDepth?: number;
  direct: boolean;
}

const fmt = (x: number, digits = 2): string => (Math.abs(x) >= 1000 ? x.toFixed(0) : x.toFixed(digits));

export function replayText(r: ReplayResult): string {
  const metrics: [string, keyof ReplayResult["images"][number], number, number][] = [
    ["requests", "reads_per_token", 1, 1],
    ["KiB read", "bytes_per_token", 1 / 1024, 1],
    ["hit rate", "hit_rate", 1, 3],
    ["simulated I/O ms", "io_ms_per_token", 1, 3],
    ["lower bound ms", "bound_io_ms_per_token", 1, 3],
    ["wall ms (real reads)", "wall_ms_per_token", 1, 3],
  ];
  const head = r.images
    .map((m, i) => `${r.images.length > 1 ? `${"AB"[i]}: ` : ""}${m.image} (placement ${m.placement}, ${m.tokens} tokens, ${m.cache_bundles_per_layer} cached bundles/layer)`)
    .join("\n");
  const header = ["per token", ...r.images.flatMap((_, i) => {
    const p = r.images.length > 1 ? `${"AB"[i]} ` : "";
    return [`${p}mean`, `${p}p50`, `${p}p99`];
  })];
  if (r.ratios) header.push("B/A");
  const rows = metrics.map(([label, key, scale, digits]) => {
    const row: (string | number)[] = [label];
    for (const m of r.images) {
      const d = m[key] as { mean: number; p50: number; p99: number };
      row.push(fmt(d.mean * scale, digits), fmt(d.p50 * scale, digits), fmt(d.p99 * scale, digits));
    }
    if (r.ratios) row.push(`${fmt(r.ratios[key as string] ?? Number.NaN, 2)}x`);
    return row;
  });
  return `${head}\ndevice ${r.device}, cache ${(r.cache_bytes / 2 ** 20).toFixed(2)} MiB (${r.policy}), ${r.split} tokens\n\n${table(header, rows)}`;
}

/**
 * The smallest byte budget that, split evenly across layers as the loader splits it,
 * holds every layer's declared cache of every image (0 when none declares one), so
 * that images compared side by side get the same budget.
 */
export async function declaredCacheBytes(images: string[]): Promise<number> {
  let total = 0;
  for (const image of images) {
    const info = await readImageInfo(image);
    let perLayer = 0;
    for (const l of info.layers) if (l.cache) perLayer = Math.max(perLayer, cacheSize(l.cache) * l.bundleBytes);
    total = Math.max(total, perLayer * info.layers.length);
  }
  return total;
}

export async function replayCli(a: ReplayArgs): Promise<void> {
  if (a.cacheMib !== undefined && !(a.cacheMib >= 0)) fail("BAD_ARGUMENT", `--cache-mib must be a number >= 0, got ${a.cacheMib}`);
  if (a.maxTokens !== undefined && !(Number.isInteger(a.maxTokens) && a.maxTokens > 0))
    fail("BAD_ARGUMENT", `--max-tokens must be an integer > 0, got ${a.maxTokens}`);
  const images = Array.isArray(a.image) ? a.image : [a.image];
  // The split is per sequence, so held-out tokens ≈ tokens x holdout (the bar only needs an estimate).
  const meta = await readTraceMeta(a.traces);
  const perImage = a.split === "all" ? meta.tokens : Math.round(meta.tokens * (a.split === "fit" ? 1 - meta.holdout : meta.holdout));
  const bar = progress({ label: "replay", total: Math.min(a.maxTokens ?? perImage, perImage) * images.length, unit: "tok", quiet: a.quiet });
  const cacheBytes = a.cacheMib === undefined ? await declaredCacheBytes(images) : Math.floor(a.cacheMib * 2 ** 20);
  const r = await replay({
    images,
    traces: a.traces,
    device: a.device,
    cacheBytes,
    policy: a.policy,
    split: a.split === "fit" ? 0 : a.split === "all" ? "all" : 1,
    maxTokens: a.maxTokens,
    queueDepth: a.queueDepth,
    direct: a.direct,
    onToken: () => bar.tick(),
  });
  bar.done();
  if (a.cacheMib === undefined && cacheBytes > 0)
    note(a, `note: cache ${(cacheBytes / 2 ** 20).toFixed(3)} MiB for all layers, what the image declares (--cache-mib sets another budget)`);
  for (const n of r.notes) note(a, `note: ${n}`);
  report(a, r, () => replayText(r));
}

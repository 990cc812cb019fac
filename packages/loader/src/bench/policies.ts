/**
 * Which DRAM cache policy wins on a trace set: replays the held-out tokens of a trace
 * through the real loader under none / lru / pin / declared at one byte budget, on
 * an image laid out by a placement (bundle bytes are zeros: only the layout matters).
 *
 *   node packages/loader/dist/bench/policies.js --traces T.arrow --placement P.json \
 *     [--bundle 24576] [--cache-fraction 0.1] [--device ufs40] [--max-tokens 2000]
 *
 * `pin` uses the placement's per-neuron activation counts (its `freq`, from the fit
 * split); `declared` the placement's declared cache, lru where it declares none.
 */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { type CachePolicy, readPlacement, readTraceMeta } from "@colink/core";
import { replay } from "../replay.js";
import { writeTestImage } from "../testimage.js";

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const traces = opt("traces");
const placementFile = opt("placement");
if (!traces || !placementFile) {
  console.error("usage: policies.js --traces T.arrow --placement P.json [--bundle B] [--cache-fraction F] [--device D] [--max-tokens N]");
  process.exit(1);
}
const bundle = Number(opt("bundle") ?? 24576);
const fraction = Number(opt("cache-fraction") ?? 0.1);
const device = opt("device") ?? "ufs40";
const maxTokens = opt("max-tokens") ? Number(opt("max-tokens")) : undefined;

const meta = await readTraceMeta(traces);
const placement = await readPlacement(placementFile, { layers: meta.layers, neurons: meta.neurons });
const dir = path.resolve("out/bench");
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `policies-${path.basename(placementFile, ".json")}.img`);
const img = await writeTestImage(file, {
  layers: meta.layers,
  neurons: meta.neurons,
  bundleBytes: bundle,
  random: false,
  orders: placement.layers.map((l) => l.order),
  caches: placement.layers.map((l) => l.cache),
});
img.info.modelId = meta.modelId;
img.info.placementMethod = placement.method;
img.info.layers.forEach((l, i) => {
  const f = placement.layers[i].freq;
  if (f) l.freq = Uint32Array.from(f);
});
const cacheBytes = meta.layers * Math.floor(fraction * meta.neurons + 1e-9) * bundle;
console.log(
  `${traces} (${meta.layers} x ${meta.neurons}), placement ${placement.method}, ${bundle}-byte bundles, cache ${fraction} of each layer (${(cacheBytes / 2 ** 20).toFixed(1)} MiB), ${device}`,
);
console.log("| policy | reads/token | MiB/token | hit rate | simulated I/O ms/token (p50) | wall ms/token |");
console.log("|---|---|---|---|---|---|");
for (const policy of ["none", "lru", "pin", "declared"] as CachePolicy[]) {
  if (policy === "pin" && !img.info.layers[0].freq) {
    console.log("| pin | (placement has no freq) | | | | |");
    continue;
  }
  const r = await replay({ images: [img.info], traces, device, cacheBytes, policy, maxTokens });
  const m = r.images[0];
  console.log(
    `| ${policy} | ${m.reads_per_token.mean.toFixed(1)} | ${(m.bytes_per_token.mean / 2 ** 20).toFixed(2)} | ${m.hit_rate.mean.toFixed(3)} | ${m.io_ms_per_token.mean.toFixed(3)} (${m.io_ms_per_token.p50.toFixed(3)}) | ${m.wall_ms_per_token.mean.toFixed(2)} |`,
  );
}

/**
 * I/O benchmark: the loader's real reads from a warm page cache against one large
 * fs.readSync of the same number of bytes (the best the OS can do for those bytes).
 *
 *   node packages/loader/dist/bench/io.js [--tokens 200] [--neurons 11008] [--bundle 24576] [--qd 32]
 *
 * A one-layer image of random bundles is written to out/bench/ (git-ignored), read
 * once to warm the page cache, then tokens of ~10% active neurons (clustered, so
 * reads have several bundles each, as after placement) are loaded through the
 * Loader with no DRAM cache. Reports bytes per token, requests per token, loader
 * throughput, readSync throughput and their ratio, per token p50 and overall.
 */
import { closeSync, mkdirSync, openSync, readSync } from "node:fs";
import * as path from "node:path";
import { DEVICE_PROFILES } from "@colink/core";
import { openParsedImage } from "../loader.js";
import { xorshift32 as rng } from "@colink/core";
import { writeTestImage } from "../testimage.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const tokens = arg("tokens", 200);
const N = arg("neurons", 11008);
const B = arg("bundle", 24576);
const qd = arg("qd", 32);
const dir = path.resolve("out/bench");
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `loader-io-${N}x${B}.img`);
const img = await writeTestImage(file, { layers: 1, neurons: N, bundleBytes: B, seed: 1 });

// Warm the page cache and size the comparison buffer.
const big = new Uint8Array(img.info.fileSize);
const fd = openSync(file, "r");
readSync(fd, big, 0, big.length, 0);

const rand = rng(2);
const active = Math.round(N * 0.1);
const tokenIds: Uint32Array[] = [];
for (let t = 0; t < tokens; t++) {
  // clusters of 1..8 consecutive ids, so reads carry several bundles
  const set = new Set<number>();
  while (set.size < active) {
    const start = Math.floor(rand() * N);
    const len = 1 + Math.floor(rand() * 8);
    for (let k = 0; k < len && set.size < active; k++) set.add((start + k) % N);
  }
  tokenIds.push(Uint32Array.from(set));
}

const loader = await openParsedImage(img.info, { device: DEVICE_PROFILES.ufs40, cacheBytes: 0, policy: "none", queueDepth: qd });
for (let t = 0; t < Math.min(20, tokens); t++) (await loader.load(0, tokenIds[t])).release(); // warm-up
loader.resetStats();
const ratios = new Float64Array(tokens);
let loaderMs = 0;
let syncMs = 0;
let bytes = 0;
for (let t = 0; t < tokens; t++) {
  const t0 = performance.now();
  const b = await loader.load(0, tokenIds[t]);
  const t1 = performance.now();
  b.release();
  const n = b.plan.bytes;
  const t2 = performance.now();
  readSync(fd, big, 0, n, 0);
  const t3 = performance.now();
  loaderMs += t1 - t0;
  syncMs += t3 - t2;
  bytes += n;
  ratios[t] = (t3 - t2) / (t1 - t0);
}
closeSync(fd);
const s = loader.stats();
await loader.close();
const sorted = ratios.slice().sort();
console.log(`${tokens} tokens, ${N} neurons x ${B} B, ${active} active/token, queue depth ${qd}, warm page cache`);
console.log(`requests/token ${(s.reads / tokens).toFixed(1)}, MiB/token ${(bytes / tokens / 2 ** 20).toFixed(2)}`);
console.log(`loader   ${(bytes / 1e6 / (loaderMs / 1e3)).toFixed(0)} MB/s (${(loaderMs / tokens).toFixed(2)} ms/token)`);
console.log(`readSync ${(bytes / 1e6 / (syncMs / 1e3)).toFixed(0)} MB/s (${(syncMs / tokens).toFixed(2)} ms/token)`);
console.log(`ratio loader/readSync speed: overall ${(syncMs / loaderMs).toFixed(2)}, per-token p50 ${sorted[Math.floor(tokens / 2)].toFixed(2)}`);

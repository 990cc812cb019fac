/**
 * Pair-counting schemes on one real-sized layer (docs/benchmarks.md#placer):
 * blocked sparse pair counting (what the methods use), the same unblocked, and
 * bit-packed popcount. Run by hand:
 *
 *   node packages/placer/dist/bench/counting.js --traces out/bench-llama2-7b.arrow --layer 16 --tokens 1024,2048
 */
import { openTraceSet, readSplit } from "../traces.js";
import { arg } from "./args.js";
import { countPairs, countPairsPopcount, sampleTokens } from "../cooccur.js";

async function main(): Promise<void> {
  const set = await openTraceSet([arg("traces", "out/bench-llama2-7b.arrow")]);
  const layer = Number(arg("layer", "16"));
  const data = (await readSplit(set, 0))[layer];
  const schemes: [string, (rows: Int32Array) => unknown][] = [
    ["sparse, blocked 1 MiB", (rows) => countPairs(data, rows)],
    ["sparse, blocked 256 KiB", (rows) => countPairs(data, rows, 1 << 18)],
    ["sparse, unblocked", (rows) => countPairs(data, rows, 1 << 30)],
    ["bit-packed popcount", (rows) => countPairsPopcount(data, rows)],
  ];
  for (const m of arg("tokens", "1024,2048").split(",").map(Number)) {
    const rows = sampleTokens(data.tokens, m);
    let active = 0;
    for (const t of rows) active += data.offsets[t + 1] - data.offsets[t];
    for (const [name, run] of schemes) {
      if (name.startsWith("bit") && m > 2048) continue;
      const t0 = performance.now();
      run(rows);
      const s = (performance.now() - t0) / 1000;
      process.stdout.write(
        `${set.neurons} neurons, ${m} tokens (${(active / m).toFixed(0)} active/token): ${name}: ${s.toFixed(2)} s\n`,
      );
    }
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});

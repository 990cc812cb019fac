/**
 * The Neuralink paper's method written the way the paper describes it, for one layer
 * (docs/benchmarks.md#speed): P(i, j) for every pair in a dense N x N float matrix
 * over all fit tokens, every co-activated pair sorted by P descending with a
 * comparison sort, then the greedy linking of path ends. It checks that
 * `neuralinkOrder` (the baseline the benchmarks run: a uint16 triangle counted in
 * blocks, a counting sort) gives the very same order, and times both, and colink's
 * placeLayer on the same layer with no cache and with `--fraction`. Run by hand:
 *
 *   node packages/placer/dist/bench/textbook.js --traces out/bench-llama2-7b.arrow --layer 16 \
 *     --bundle-bytes 24576 --fraction 0.1
 */
import { budgetForFraction, resolveDeviceProfile } from "@colink/core";
import { placeLayer } from "../layer.js";
import { concatPaths, PathLinker } from "../link.js";
import { neuralinkOrder } from "../methods.js";
import { openTraceSet, readSplit } from "../traces.js";
import { arg, stopwatch } from "./args.js";

async function main(): Promise<void> {
  const set = await openTraceSet([arg("traces", "out/bench-llama2-7b.arrow")]);
  const layer = Number(arg("layer", "16"));
  const data = (await readSplit(set, 0))[layer];
  const { neurons: n, tokens: T, offsets, ids } = data;
  const { lap, line } = stopwatch(52);
  process.stdout.write(`layer ${layer}: ${n} neurons, ${T} fit tokens\n`);

  lap();
  // P(i, j), i < j, in the upper half of a dense matrix (row i at i * n)
  const P = new Float32Array(n * n);
  for (let tk = 0; tk < T; tk++) {
    const a = offsets[tk];
    const b = offsets[tk + 1];
    for (let p = a; p < b; p++) {
      const row = ids[p] * n;
      for (let q = p + 1; q < b; q++) P[row + ids[q]] += 1;
    }
  }
  for (let x = 0; x < P.length; x++) P[x] /= T;
  line(`textbook: dense ${n} x ${n} P matrix, ${T} tokens`, lap());
  // every co-activated pair as its matrix index i * n + j: ascending index is lower i,
  // then lower j, the tie order neuralinkOrder uses
  const pairs: number[] = [];
  for (let i = 0; i < n - 1; i++) for (let j = i + 1; j < n; j++) if (P[i * n + j] > 0) pairs.push(i * n + j);
  pairs.sort((x, y) => P[y] - P[x] || x - y);
  line(`textbook: comparison sort of ${pairs.length} pairs by P`, lap());
  const linker = new PathLinker(n);
  for (let e = 0; e < pairs.length && linker.links < n - 1; e++) linker.tryLink(Math.floor(pairs[e] / n), pairs[e] % n);
  const textbook = concatPaths(linker.paths(), n);
  const textbookS = lap();
  line("textbook: greedy linking", textbookS);

  const fast = neuralinkOrder(data);
  line("neuralinkOrder (triangle, blocked counts, counting sort)", lap());
  let same = fast.length === textbook.length;
  for (let x = 0; same && x < n; x++) same = fast[x] === textbook[x];
  process.stdout.write(`orders ${same ? "identical" : "DIFFER"}\n`);
  if (!same) process.exit(1);

  const device = await resolveDeviceProfile(arg("device", "ufs40"));
  const bundleBytes = Number(arg("bundle-bytes", "24576"));
  for (const F of [0, Number(arg("fraction", "0.1"))]) {
    lap();
    placeLayer({ layer, method: "colink", data, budget: budgetForFraction(F, n), device, bundleBytes, colink: {} });
    line(`colink placeLayer, F = ${F}`, lap());
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});

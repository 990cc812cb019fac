/**
 * Profiler throughput on the bundled model next to a NumPy forward of the same
 * model (scripts/numpy_forward.py), in the same run, plus this process's peak RSS.
 *
 *   node packages/profiler/dist/bench/profile.js [--tokens 4096] [--seq-len 128] [--rounds 3]
 *
 * Each round runs the profiler then the NumPy forward (same tokens, batches of 16
 * sequences; excludes loading, which the profiler's time includes) back to back, so
 * both see the same machine load; medians are reported.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { profileModel } from "../profile.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const tokens = arg("tokens", 4096);
const rounds = arg("rounds", 3);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seqLen = arg("seq-len", 128);
const model = path.join(root, "data/models/tiny-relu-llama");
const corpus = path.join(root, "data/corpus/fortunes-sample.txt");

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "colink-bench-"));
try {
  const per: { profilerTokS: number; numpyTokS: number; numpyDefaultThreadsTokS: number; numpyOneThreadTokS: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    const p = await profileModel({ model, corpus: [corpus], out: path.join(dir, "t.arrow"), seqLen, maxTokens: tokens, quiet: true });
    // NumPy twice: OpenBLAS's default threads and one thread. Under load its threads
    // busy-wait and it ran 10-40x slower than single-threaded, so the stronger of the
    // two is the baseline.
    const numpy = (env: Record<string, string>): number =>
      JSON.parse(
        execFileSync("python3", [path.join(root, "scripts/numpy_forward.py"), model, "--bench", String(tokens), "--seq-len", String(seqLen)], {
          env: { ...process.env, ...env },
        }).toString(),
      ).tokens_per_second;
    const npDefault = numpy({});
    const npOne = numpy({ OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1" });
    per.push({
      profilerTokS: Math.round(p.tokensPerSecond),
      numpyTokS: Math.round(Math.max(npDefault, npOne)),
      numpyDefaultThreadsTokS: Math.round(npDefault),
      numpyOneThreadTokS: Math.round(npOne),
    });
  }
  const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  const prof = median(per.map((x) => x.profilerTokS));
  const np = median(per.map((x) => x.numpyTokS));
  console.log(
    JSON.stringify(
      {
        model: "tiny-relu-llama",
        tokens,
        seqLen,
        profilerTokensPerSecond: prof,
        numpyForwardTokensPerSecond: np,
        ratio: +median(per.map((x) => x.profilerTokS / x.numpyTokS)).toFixed(2),
        peakRssMiB,
        rounds: per,
      },
      null,
      2,
    ),
  );
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}

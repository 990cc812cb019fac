/**
 * Profiler throughput on the bundled model next to a NumPy forward of the same
 * model (scripts/numpy_forward.py), in the same run, plus this process's peak RSS.
 *
 *   node packages/profiler/dist/bench/profile.js [--tokens 16384] [--seq-len 128]
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
const tokens = arg("tokens", 16384);
const seqLen = arg("seq-len", 128);
const model = path.join(root, "data/models/tiny-relu-llama");
const corpus = path.join(root, "data/corpus/fortunes-sample.txt");

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "colink-bench-"));
try {
  const r = await profileModel({ model, corpus: [corpus], out: path.join(dir, "t.arrow"), seqLen, maxTokens: tokens, quiet: true });
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  const np = JSON.parse(
    execFileSync("python3", [path.join(root, "scripts/numpy_forward.py"), model, "--bench", String(tokens), "--seq-len", String(seqLen)]).toString(),
  );
  console.log(
    JSON.stringify(
      {
        model: "tiny-relu-llama",
        tokens: r.tokens,
        seqLen,
        profiler: { seconds: +r.seconds.toFixed(2), tokensPerSecond: Math.round(r.tokensPerSecond), peakRssMiB: Math.round(peakRssMiB) },
        numpyForward: { seconds: +np.seconds.toFixed(2), tokensPerSecond: Math.round(np.tokens_per_second) },
        ratio: +(r.tokensPerSecond / np.tokens_per_second).toFixed(2),
      },
      null,
      2,
    ),
  );
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}

/**
 * Matmul kernel GFLOP/s next to NumPy (OpenBLAS), measured in the same run, at
 * Llama-2-7B FFN shapes: 512 tokens x 4096 -> 11008 (gate/up) and 11008 -> 4096 (down).
 *
 *   node packages/profiler/dist/bench/kernel.js [--reps 5] [--rounds 3] [--threads 2]
 *
 * Each round times onnxruntime then NumPy back to back (median of `reps` each), so
 * that both see the same machine load; the result reports every round and the median.
 */
import { execFileSync } from "node:child_process";
import { Kernels } from "../onnx.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const reps = arg("reps", 5);
const threads = arg("threads", 2);
const rounds = arg("rounds", 3);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const shapes: [number, number, number][] = [
  [512, 4096, 11008],
  [512, 11008, 4096],
];

function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

function numpy(m: number, k: number, n: number): number {
  // Same operation: X [m, k] times W [n, k] transposed, float32, median of reps.
  const code = `
import numpy as np, time, sys
m,k,n,r=${m},${k},${n},${reps}
x=np.random.rand(m,k).astype(np.float32)-0.5; w=np.random.rand(n,k).astype(np.float32)-0.5
x@w.T
ts=[]
for _ in range(r):
    t=time.perf_counter(); x@w.T; ts.append(time.perf_counter()-t)
ts.sort(); print(2*m*k*n/ts[len(ts)//2]/1e9)`;
  return Number(execFileSync("python3", ["-c", code]).toString().trim());
}

const kernels = await Kernels.create(threads);
const rows: { shape: string; ortGflops: number; numpyGflops: number; ratio: number; rounds: [number, number][] }[] = [];
for (const [m, k, n] of shapes) {
  const x = fill(m * k, 1);
  const w = fill(n * k, 2);
  await kernels.linear(x, m, k, w, n); // warm-up
  const per: [number, number][] = [];
  for (let r = 0; r < rounds; r++) {
    const ts: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      await kernels.linear(x, m, k, w, n);
      ts.push((performance.now() - t) / 1000);
    }
    per.push([+((2 * m * k * n) / median(ts) / 1e9).toFixed(1), +numpy(m, k, n).toFixed(1)]);
  }
  const ort = median(per.map((p) => p[0]));
  const np = median(per.map((p) => p[1]));
  rows.push({ shape: `${m}x${k}x${n}`, ortGflops: ort, numpyGflops: np, ratio: +(median(per.map((p) => p[0] / p[1]))).toFixed(2), rounds: per });
}
await kernels.release();
console.log(JSON.stringify({ threads, reps, rounds, rows }, null, 2));

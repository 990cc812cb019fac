/**
 * Layers in parallel: a small pool of worker threads, one layer job each at a time.
 * The layer's token arrays are transferred (not copied) to the worker. When the
 * compiled worker is not there (tests run the TypeScript sources) or threads = 1,
 * jobs run inline, one after another.
 */
import { existsSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type LayerJob, type LayerResult, placeLayer } from "./layer.js";

/**
 * Worker threads by default: the machine's cores, at most 8, and no more than half
 * the machine's memory holds when each worker needs `bytesPerWorker` at once (one
 * layer's pair counts: 121 MB at 7B, 2.8 GB at 53248 neurons).
 */
export function defaultThreads(bytesPerWorker = 0): number {
  const cores = Math.max(1, Math.min(availableParallelism(), 8));
  if (bytesPerWorker <= 0) return cores;
  return Math.max(1, Math.min(cores, Math.floor(totalmem() / 2 / bytesPerWorker)));
}

/**
 * Runs `jobs` (produced lazily, so only the layers in flight need their tokens in
 * memory) on `threads` workers; calls `onResult` as each finishes.
 */
export async function runLayerJobs(
  jobs: Iterable<LayerJob>,
  threads: number,
  onResult: (r: LayerResult) => void,
): Promise<void> {
  const workerFile = fileURLToPath(new URL("./worker.js", import.meta.url));
  if (threads <= 1 || !existsSync(workerFile)) {
    for (const job of jobs) onResult(placeLayer(job));
    return;
  }
  const it = jobs[Symbol.iterator]();
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let active = 0;
      let failed = false;
      const feed = (w: Worker): void => {
        const next = it.next();
        if (next.done) {
          if (active === 0) resolve();
          return;
        }
        active++;
        const job = next.value;
        w.postMessage(job, [job.data.offsets.buffer as ArrayBuffer, job.data.ids.buffer as ArrayBuffer]);
      };
      for (let i = 0; i < threads; i++) {
        const w = new Worker(workerFile);
        workers.push(w);
        w.on("message", (m: { ok: boolean; result?: LayerResult; error?: string }) => {
          active--;
          if (failed) return;
          if (!m.ok) {
            failed = true;
            reject(new Error(m.error));
            return;
          }
          onResult(m.result as LayerResult);
          feed(w);
        });
        w.on("error", (e) => {
          failed = true;
          reject(e);
        });
      }
      for (const w of workers) feed(w);
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Worker thread entry: runs placeLayer for each job posted to it (see pool.ts). */
import { parentPort } from "node:worker_threads";
import { type LayerJob, placeLayer } from "./layer.js";

parentPort?.on("message", (job: LayerJob) => {
  try {
    const r = placeLayer(job);
    parentPort?.postMessage({ ok: true, result: r }, [r.order.buffer as ArrayBuffer, r.freq.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort?.postMessage({ ok: false, error: e instanceof Error ? `${e.message}` : String(e) });
  }
});

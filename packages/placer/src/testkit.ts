/** Fixtures shared by the placer's unit tests (not part of the package's build). */
import type { DeviceProfile } from "@colink/core";
import type { LayerTokens } from "./cooccur.js";

export { xorshift32 as rng } from "@colink/core";

/** 1 us per 1 KiB bundle, 10 us per request: gaps of up to 9 bundles are read through. */
export const dev: DeviceProfile = {
  name: "test",
  description: "",
  latencyUs: 10,
  bandwidthBytesPerSec: 1024e6,
  maxRequestBytes: 64 * 1024,
  queueDepth: 1,
  source: "",
};

/** One layer's tokens as CSR, each token's ids de-duplicated and ascending. */
export function csr(neurons: number, tokens: number[][]): LayerTokens {
  const offsets = new Int32Array(tokens.length + 1);
  const flat: number[] = [];
  tokens.forEach((t, i) => {
    const sorted = Array.from(new Set(t)).sort((a, b) => a - b);
    flat.push(...sorted);
    offsets[i + 1] = flat.length;
  });
  return { neurons, tokens: tokens.length, offsets, ids: Uint16Array.from(flat) };
}

/** What the CLI handlers load lazily: the implementations plus their text reports. */
import { table } from "@colink/core";
import type { ProfileResult } from "./profile.js";
import type { TraceStats } from "./tracetools.js";

export { profileModel } from "./profile.js";
export { exportMasks, importMasks, traceStats } from "./tracetools.js";

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

export function profileText(r: ProfileResult): string {
  return [
    `${r.out}: ${r.tokens} tokens in ${r.sequences} sequences of ${r.seqLen} (${r.droppedTokens} dropped, ${r.heldOutSequences} held out)`,
    `model ${r.modelId} (${r.architecture}), tokenizer ${r.tokenizer}, activation ${r.activation.rule}`,
    `${r.seconds.toFixed(1)} s, ${r.tokensPerSecond.toFixed(0)} tokens/s`,
    table(
      ["layer", "active"],
      r.activeFraction.map((f, l) => [l, pct(f)]),
    ),
  ].join("\n");
}

export function statsText(s: TraceStats): string {
  return [
    `${s.file}: ${s.tokens} tokens (${s.heldOutTokens} held out), ${s.layers} layers x ${s.neurons} neurons, source ${s.source}${s.modelId ? `, model ${s.modelId}` : ""}`,
    table(
      ["layer", "active", "hot-10% share", "reuse (Jaccard)"],
      s.perLayer.map((l) => [l.layer, pct(l.activeFraction), pct(l.hot10Share), l.reuseJaccard.toFixed(3)]),
    ),
  ].join("\n");
}

/**
 * The pipeline's calls into the stage packages, in one place: each function takes
 * plain options and returns the stage's JSON-able result (what the stage's own
 * command prints with --json), which the runner stores in the stage manifest.
 */
import { type ImageInfo, type ImageVerifyResult, type StoredDtype, progress, readImageInfo, verifyImage } from "@colink/core";
import { type ReplayResult, replay as replayImages } from "@colink/loader";
import { type PackResult, packImage } from "@colink/packer";
import { type Method, type PlaceResult, placeTraces } from "@colink/placer";
import { type ProfileResult, profileModel } from "@colink/profiler";
import { type ActivationRule, tokenizerFile } from "./config.js";

export interface ProfileOptions {
  model: string;
  /** Text to profile, or "" when `tokenIds` is given. */
  corpus: string;
  /** Pre-tokenized ids (.npy), or "". */
  tokenIds: string;
  /** "bytes", a tokenizer.json path, or "" for the profiler's default. */
  tokenizer: string;
  out: string;
  rule: ActivationRule;
  seqLen: number;
  maxTokens: number;
  holdout: number;
  seed: number;
  quiet: boolean;
}

export async function profile(o: ProfileOptions): Promise<ProfileResult> {
  return profileModel({
    model: o.model,
    corpus: o.corpus === "" ? [] : [o.corpus],
    tokenIds: o.tokenIds === "" ? undefined : o.tokenIds,
    tokenizer: o.tokenizer === "" ? undefined : o.tokenizer,
    out: o.out,
    ...o.rule,
    seqLen: o.seqLen,
    maxTokens: o.maxTokens > 0 ? o.maxTokens : undefined,
    holdout: o.holdout,
    seed: o.seed,
    quiet: o.quiet,
  });
}

export interface PlaceOptions {
  traces: string;
  method: string;
  out: string;
  cacheFraction: number;
  device: string;
  bundleBytes: number;
  seed: number;
  quiet: boolean;
}

/** The place command's --json summary; the placement itself is the stage's placement.json, not repeated in its manifest. */
export async function place(o: PlaceOptions): Promise<Omit<PlaceResult, "placement">> {
  const { placement: _p, ...summary } = await placeTraces({
    traces: [o.traces],
    method: o.method as Method,
    out: o.out,
    cacheFraction: o.cacheFraction,
    device: o.device,
    bundleBytes: o.bundleBytes,
    seed: o.seed,
    quiet: o.quiet,
  });
  return summary;
}

export interface PackOptions {
  model: string;
  placement: string;
  out: string;
  dtype: string;
  /** A tokenizer.json to record in the image ("" or "bytes": the checkpoint's own reference). */
  tokenizer: string;
  quiet: boolean;
}

export async function pack(o: PackOptions, label: string): Promise<PackResult> {
  const bar = progress({ label, total: 1, unit: "MB", scale: 1e-6, quiet: o.quiet });
  try {
    return await packImage({
      model: o.model,
      placement: o.placement,
      out: o.out,
      dtype: o.dtype as StoredDtype,
      tokenizer: tokenizerFile(o.tokenizer),
      onProgress: (done, total) => bar.update(done / total),
    });
  } finally {
    bar.done();
  }
}

/** Every checksum of an image (core's verifier: the same code `colink verify` runs). Throws CHECKSUM. */
export async function verify(image: string, quiet: boolean): Promise<ImageVerifyResult> {
  const bar = progress({ label: "verify", total: 1, quiet });
  try {
    return await verifyImage(image, { onProgress: (done, total) => bar.update(done / total) });
  } finally {
    bar.done();
  }
}

/** The parsed, validated index of an image. */
export async function inspect(image: string): Promise<ImageInfo> {
  return readImageInfo(image);
}

export interface ReplayOptions {
  image: string;
  traces: string;
  device: string;
  cacheBytes: number;
  policy: "declared";
  /** Held-out tokens, for the progress bar. */
  tokens: number;
  quiet: boolean;
}

/** The loader's replay of held-out tokens (split 1) through the real loader. */
export async function replay(o: ReplayOptions, label: string): Promise<ReplayResult> {
  const bar = progress({ label, total: o.tokens, unit: "tok", quiet: o.quiet });
  try {
    return await replayImages({
      images: [o.image],
      traces: o.traces,
      device: o.device,
      cacheBytes: o.cacheBytes,
      policy: o.policy,
      split: 1,
      onToken: () => bar.tick(),
    });
  } finally {
    bar.done();
  }
}

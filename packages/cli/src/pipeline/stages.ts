/**
 * The pipeline's calls into the stage packages, in one place: each function takes
 * plain options and returns the stage's JSON-able result. The stage packages are
 * imported as namespaces and their entry points looked up at run time, so a stage
 * whose API has not been built fails with one clear line instead of breaking the
 * whole CLI's build.
 */
import { ColinkError, type ImageInfo, type ImageVerifyResult, readImageInfo, verifyImage } from "@colink/core";
import * as loader from "@colink/loader";
import * as packer from "@colink/packer";
import * as placer from "@colink/placer";
import * as profiler from "@colink/profiler";

type Fn = (...args: unknown[]) => Promise<unknown>;

function entry(pkg: string, mod: unknown, name: string): Fn {
  const f = (mod as Record<string, unknown>)[name];
  if (typeof f !== "function")
    throw new ColinkError("UNSUPPORTED", `${pkg} does not export ${name}() yet; the pipeline cannot run this stage`);
  return f as Fn;
}

export function hasEntry(mod: "loader" | "packer" | "placer" | "profiler", name: string): boolean {
  const m = { loader, packer, placer, profiler }[mod] as Record<string, unknown>;
  return typeof m[name] === "function";
}

export interface ProfileOptions {
  model: string;
  corpus: string;
  out: string;
  seqLen: number;
  maxTokens: number;
  holdout: number;
  seed: number;
  quiet: boolean;
}

export async function profile(o: ProfileOptions): Promise<Record<string, unknown>> {
  const opts = {
    model: o.model,
    corpus: [o.corpus],
    out: o.out,
    seqLen: o.seqLen,
    maxTokens: o.maxTokens > 0 ? o.maxTokens : undefined,
    holdout: o.holdout,
    seed: o.seed,
    quiet: o.quiet,
  };
  return (await entry("@colink/profiler", profiler, "profileModel")(opts)) as Record<string, unknown>;
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

export async function place(o: PlaceOptions): Promise<Record<string, unknown>> {
  return (await entry("@colink/placer", placer, "placeTraces")({ ...o, traces: [o.traces] })) as Record<string, unknown>;
}

export interface PackOptions {
  model: string;
  placement: string;
  out: string;
  dtype: string;
  quiet: boolean;
}

export async function pack(o: PackOptions): Promise<Record<string, unknown>> {
  return (await entry("@colink/packer", packer, "packImage")(o)) as Record<string, unknown>;
}

/** Every checksum of an image (core's verifier: the same code `colink verify` runs). Throws CHECKSUM. */
export async function verify(image: string): Promise<ImageVerifyResult> {
  return verifyImage(image);
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
  policy: string;
  quiet: boolean;
}

export async function replay(o: ReplayOptions): Promise<Record<string, unknown>> {
  const opts = {
    images: [o.image],
    traces: o.traces,
    device: o.device,
    cacheBytes: o.cacheBytes,
    cacheMib: o.cacheBytes / 2 ** 20,
    policy: o.policy,
    quiet: o.quiet,
  };
  return (await entry("@colink/loader", loader, "replay")(opts)) as Record<string, unknown>;
}

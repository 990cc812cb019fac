/**
 * The resumable stage runner. A stage's output directory is named by a digest of
 * everything that determines it: the stage name and version, its parameters, and
 * the SHA-256 of its input files (for upstream stages: of their output files). So
 *
 *   out/<name>/stages/<stage>-<digest12>/<outputs...> + manifest.json
 *
 * is reused when a rerun asks for the same digest and its manifest is present and
 * its outputs are intact; anything else runs the stage again. The manifest is
 * written last (atomically), so a crash mid-stage leaves a directory without one,
 * which the next run wipes and redoes. Changing one parameter changes the digests of
 * that stage and of everything downstream of it, and nothing upstream.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { ColinkError, fail, readJsonFile, sha256, sha256File, writeJsonAtomic } from "@colink/core";

/** Bump when a stage's outputs change meaning, so old cached outputs are not reused. */
export const RUNNER_VERSION = 1;
export const MANIFEST = "manifest.json";
const MANIFEST_FORMAT = "colink.stage-manifest/1";

export interface StageOutput {
  /** Path relative to the stage directory. */
  file: string;
  bytes: number;
  sha256: string;
}

export interface StageSpec<R> {
  /** Stage name, also the directory prefix: profile, place-colink, pack-identity, ... */
  stage: string;
  /** Named input digests (file SHA-256s or upstream output digests). */
  inputs: Record<string, string>;
  /** JSON-able parameters that change the output. */
  params: Record<string, unknown>;
  /**
   * Does the work inside `dir` (empty, exists) and returns a JSON-able result plus
   * the output files it wrote (relative to `dir`).
   */
  run(dir: string): Promise<{ result: R; outputs: string[] }>;
}

export interface StageRecord<R> {
  stage: string;
  digest: string;
  dir: string;
  cached: boolean;
  /** Wall time of the work this run did (0 when cached). */
  seconds: number;
  result: R;
  outputs: Record<string, StageOutput>;
}

interface Manifest<R> {
  format: typeof MANIFEST_FORMAT;
  stage: string;
  digest: string;
  inputs: Record<string, string>;
  params: Record<string, unknown>;
  outputs: StageOutput[];
  result: R;
  seconds: number;
}

/** JSON with object keys sorted, so equal values always give equal text (and digests). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export function stageDigest(stage: string, inputs: Record<string, string>, params: Record<string, unknown>): string {
  return sha256(canonicalJson({ runner: RUNNER_VERSION, stage, inputs, params }));
}

export class StageRunner {
  readonly runDir: string;
  readonly records: StageRecord<unknown>[] = [];
  private readonly say: (msg: string) => void;
  private digestCache: Record<string, { size: number; mtimeMs: number; sha256: string }> | null = null;

  constructor(runDir: string, say: (msg: string) => void) {
    this.runDir = runDir;
    this.say = say;
  }

  stageDir(stage: string, digest: string): string {
    return path.join(this.runDir, "stages", `${stage}-${digest.slice(0, 12)}`);
  }

  /**
   * SHA-256 of an input file, remembered in <run>/stages/file-digests.json by
   * (path, size, mtime) so a multi-GB checkpoint is hashed once, not on every run.
   */
  async fileDigest(file: string): Promise<string> {
    const cacheFile = path.join(this.runDir, "stages", "file-digests.json");
    if (this.digestCache === null) {
      try {
        this.digestCache = (await readJsonFile(cacheFile)) as typeof this.digestCache;
      } catch {
        this.digestCache = {};
      }
    }
    const abs = path.resolve(file);
    let st: import("node:fs").Stats;
    try {
      st = await fs.stat(abs);
    } catch {
      throw new ColinkError("NOT_FOUND", `${file}: no such file or directory`, file);
    }
    const hit = this.digestCache![abs];
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
    const digest = await sha256File(abs);
    this.digestCache![abs] = { size: st.size, mtimeMs: st.mtimeMs, sha256: digest };
    await writeJsonAtomic(cacheFile, this.digestCache);
    return digest;
  }

  /** Runs a stage, or reuses its complete output from an earlier run. */
  async run<R>(spec: StageSpec<R>): Promise<StageRecord<R>> {
    const digest = stageDigest(spec.stage, spec.inputs, spec.params);
    const dir = this.stageDir(spec.stage, digest);
    const cached = await this.readComplete<R>(dir, digest);
    if (cached) {
      this.say(`${spec.stage}: cached (digest ${digest.slice(0, 12)})`);
      const rec = this.record(spec.stage, digest, dir, true, 0, cached.result, cached.outputs);
      return rec;
    }
    // A directory without a valid manifest is what a crash leaves: start it afresh.
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    this.say(`${spec.stage}: running (digest ${digest.slice(0, 12)})`);
    const t0 = performance.now();
    const { result, outputs } = await spec.run(dir);
    const seconds = (performance.now() - t0) / 1000;
    const outs: StageOutput[] = [];
    for (const rel of outputs) {
      const abs = path.join(dir, rel);
      const st = await fs.stat(abs).catch(() => fail("NOT_FOUND", `stage ${spec.stage} did not write its output ${abs}`, abs));
      outs.push({ file: rel, bytes: st.size, sha256: await sha256File(abs) });
    }
    const manifest: Manifest<R> = {
      format: MANIFEST_FORMAT,
      stage: spec.stage,
      digest,
      inputs: spec.inputs,
      params: spec.params,
      outputs: outs,
      result,
      seconds,
    };
    await writeJsonAtomic(path.join(dir, MANIFEST), manifest);
    this.say(`${spec.stage}: done in ${seconds.toFixed(1)} s`);
    return this.record(spec.stage, digest, dir, false, seconds, result, outs);
  }

  private record<R>(stage: string, digest: string, dir: string, cached: boolean, seconds: number, result: R, outs: StageOutput[]): StageRecord<R> {
    const outputs: Record<string, StageOutput> = {};
    for (const o of outs) outputs[o.file] = o;
    const rec: StageRecord<R> = { stage, digest, dir, cached, seconds, result, outputs };
    this.records.push(rec as StageRecord<unknown>);
    return rec;
  }

  /** The manifest of a complete stage directory, or null (absent, other digest, output missing or resized). */
  private async readComplete<R>(dir: string, digest: string): Promise<Manifest<R> | null> {
    let m: Manifest<R>;
    try {
      m = (await readJsonFile(path.join(dir, MANIFEST))) as Manifest<R>;
    } catch {
      return null;
    }
    if (m?.format !== MANIFEST_FORMAT || m.digest !== digest || !Array.isArray(m.outputs)) return null;
    for (const o of m.outputs) {
      const st = await fs.stat(path.join(dir, o.file)).catch(() => null);
      if (!st || st.size !== o.bytes) return null;
    }
    return m;
  }
}

/** Absolute path of a stage output. */
export function outputPath(rec: StageRecord<unknown>, file: string): string {
  if (!rec.outputs[file]) fail("NOT_FOUND", `stage ${rec.stage} has no output ${file}`);
  return path.join(rec.dir, file);
}

/**
 * A digest of the code that produces a stage's output, part of the stage digest: a
 * new placer (or profiler, packer, loader, core) must not reuse outputs the old one
 * made. It is the SHA-256 over the built JavaScript of the packages involved (their
 * dist/ trees, file names and bytes, in sorted order), read once per run; without a
 * dist/ tree (an unusual install) the package.json version stands in.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { sha256 } from "@colink/core";
import { repoRoot } from "./config.js";

const cache = new Map<string, string>();

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "bench") await walk(p, out);
    } else if (e.name.endsWith(".js")) out.push(p);
  }
}

/** Digest of one workspace package's built code (e.g. "placer"). */
export async function packageCodeDigest(pkg: string): Promise<string> {
  const hit = cache.get(pkg);
  if (hit) return hit;
  const root = path.join(repoRoot(), "packages", pkg);
  let digest: string;
  try {
    const files: string[] = [];
    await walk(path.join(root, "dist"), files);
    files.sort();
    const parts: string[] = [];
    for (const f of files) parts.push(`${path.relative(root, f)}\n${sha256(await fs.readFile(f))}`);
    digest = sha256(parts.join("\n"));
  } catch {
    const pj = JSON.parse(await fs.readFile(path.join(root, "package.json"), "utf8").catch(() => "{}")) as { version?: string };
    digest = `version:${pj.version ?? "unknown"}`;
  }
  cache.set(pkg, digest);
  return digest;
}

/** Digest of several packages' code, e.g. ["core", "placer"]. */
export async function codeDigest(pkgs: string[]): Promise<string> {
  const ds = await Promise.all(pkgs.map(packageCodeDigest));
  return sha256(pkgs.map((p, i) => `${p}:${ds[i]}`).join("\n"));
}

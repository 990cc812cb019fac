/** Runs the real `colink` CLI (the built bin, as `npx colink` would) in a child process. */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = path.join(ROOT, "packages/cli/bin/colink.js");
export const MODEL = path.join(ROOT, "data/models/tiny-relu-llama");
export const CORPUS = path.join(ROOT, "data/corpus/fortunes-sample.txt");

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function colink(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 300_000,
    env: { ...process.env, COLINK_DEBUG: "" },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix = "colink-e2e-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

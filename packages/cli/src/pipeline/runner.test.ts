import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MANIFEST, StageRunner, canonicalJson, stageDigest } from "./runner.js";

const root = mkdtempSync(path.join(tmpdir(), "colink-runner-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function counting(runner: StageRunner, params: Record<string, unknown>, calls: { n: number }, fail = false) {
  return runner.run({
    stage: "square",
    inputs: { x: "abc" },
    params,
    async run(dir) {
      calls.n++;
      await fs.writeFile(path.join(dir, "out.txt"), `value ${params.k}\n`);
      if (fail) throw new Error("crash mid-stage");
      return { result: { k: params.k }, outputs: ["out.txt"] };
    },
  });
}

describe("StageRunner", () => {
  it("reuses a complete stage and says so; a changed parameter reruns it", async () => {
    const dir = path.join(root, "a");
    const said: string[] = [];
    const calls = { n: 0 };
    const r1 = await counting(new StageRunner(dir, (m) => said.push(m)), { k: 1 }, calls);
    expect(r1.cached).toBe(false);
    expect(existsSync(path.join(r1.dir, MANIFEST))).toBe(true);
    const r2 = await counting(new StageRunner(dir, (m) => said.push(m)), { k: 1 }, calls);
    expect(r2.cached).toBe(true);
    expect(r2.dir).toBe(r1.dir);
    expect(r2.result).toEqual({ k: 1 });
    expect(calls.n).toBe(1);
    expect(said).toContain(`square: cached (digest ${r1.digest.slice(0, 12)})`);
    const r3 = await counting(new StageRunner(dir, () => {}), { k: 2 }, calls);
    expect(r3.cached).toBe(false);
    expect(r3.digest).not.toBe(r1.digest);
    expect(calls.n).toBe(2);
  });

  it("a stage that crashed leaves no manifest and runs again, wiping its leftovers", async () => {
    const dir = path.join(root, "b");
    const calls = { n: 0 };
    await expect(counting(new StageRunner(dir, () => {}), { k: 1 }, calls, true)).rejects.toThrow(/crash/);
    const stageDir = new StageRunner(dir, () => {}).stageDir("square", stageDigest("square", { x: "abc" }, { k: 1 }));
    expect(existsSync(path.join(stageDir, "out.txt"))).toBe(true);
    expect(existsSync(path.join(stageDir, MANIFEST))).toBe(false);
    writeFileSync(path.join(stageDir, "junk"), "left by the crash");
    const r = await counting(new StageRunner(dir, () => {}), { k: 1 }, calls);
    expect(r.cached).toBe(false);
    expect(calls.n).toBe(2);
    expect(existsSync(path.join(stageDir, "junk"))).toBe(false);
  });

  it("reruns when an output of a complete stage was removed or changed size", async () => {
    const dir = path.join(root, "c");
    const calls = { n: 0 };
    const r1 = await counting(new StageRunner(dir, () => {}), { k: 1 }, calls);
    writeFileSync(path.join(r1.dir, "out.txt"), "truncated");
    const r2 = await counting(new StageRunner(dir, () => {}), { k: 1 }, calls);
    expect(r2.cached).toBe(false);
    expect(calls.n).toBe(2);
  });

  it("digests do not depend on key order", () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
    expect(stageDigest("s", { y: "1", x: "2" }, { q: 1, p: 2 })).toBe(stageDigest("s", { x: "2", y: "1" }, { p: 2, q: 1 }));
  });

  it("remembers input file digests by size and mtime", async () => {
    const dir = path.join(root, "d");
    const f = path.join(root, "input.bin");
    writeFileSync(f, "hello");
    const r = new StageRunner(dir, () => {});
    const d1 = await r.fileDigest(f);
    expect(d1).toBe("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    writeFileSync(f, "hello, world");
    expect(await new StageRunner(dir, () => {}).fileDigest(f)).not.toBe(d1);
  });
});

describe("run directory lock", () => {
  it("refuses a second live owner and takes over a stale lock", async () => {
    const { lockRunDir } = await import("./lock.js");
    const { hostname } = await import("node:os");
    const dir = path.join(root, "lock");
    await fs.mkdir(dir, { recursive: true });
    const release = await lockRunDir(dir);
    // a live process (our parent) holding the lock blocks us
    writeFileSync(path.join(dir, ".lock"), `${process.ppid} ${hostname()}\n`);
    await expect(lockRunDir(dir)).rejects.toThrow(/in use by another colink pipeline \(pid \d+\)/);
    // a pid that cannot exist: stale, taken over
    writeFileSync(path.join(dir, ".lock"), `2147483646 ${hostname()}\n`);
    const again = await lockRunDir(dir);
    await again();
    expect(existsSync(path.join(dir, ".lock"))).toBe(false);
    await release();
  });
});

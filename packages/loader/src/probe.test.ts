import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { validateDeviceProfile } from "@colink/core";
import { afterAll, expect, it } from "vitest";
import { probeDevice } from "./probe.js";

const dir = mkdtempSync(path.join(tmpdir(), "colink-probe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("measures every (size, depth) point and fits a profile --device accepts", async () => {
  const file = path.join(dir, "f.bin");
  writeFileSync(file, new Uint8Array(1 << 20).fill(7));
  const r = await probeDevice({ path: file, sizes: [4096, 65536], depths: [1, 2], seconds: 0.02 });
  expect(r.points.map((p) => [p.bytes, p.depth])).toEqual([
    [4096, 1],
    [4096, 2],
    [65536, 1],
    [65536, 2],
  ]);
  for (const p of r.points) expect(p.requests).toBeGreaterThan(0);
  expect(validateDeviceProfile(JSON.parse(JSON.stringify(r.profile)), "probe")).toEqual(r.profile);
  // without O_DIRECT (e.g. tmpfs) the page cache may answer: the probe must say so
  if (!r.direct) expect(r.warnings.join("\n")).toMatch(/page cache/);
  const buffered = await probeDevice({ path: file, sizes: [4096, 65536], depths: [1], seconds: 0.01, direct: false });
  expect(buffered.direct).toBe(false);
  expect(buffered.warnings.join("\n")).toMatch(/page cache/);
});

it("refuses a file too small to measure", async () => {
  const file = path.join(dir, "small.bin");
  writeFileSync(file, new Uint8Array(8192));
  await expect(probeDevice({ path: file, seconds: 0.01 })).rejects.toThrow(/probing needs at least/);
});

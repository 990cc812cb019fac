/**
 * Pack throughput and peak memory at Llama-2-7B layer shapes (d = 4096, 11008 neurons,
 * f16), next to a plain `cp` and a `dd ... conv=fsync` of the same checkpoint, measured
 * in the same run (pack fsyncs its output; cp does not).
 *
 *   npx tsc -b && node packages/packer/dist/bench/pack7b.js [--layers 2] [--dir out/bench-packer] [--reps 2]
 *
 * Generates the checkpoint once (not committed), then alternates `cp` and each pack
 * variant `reps` times, each in its own process under /usr/bin/time for wall time and
 * peak RSS (and user+sys CPU seconds, steadier than wall time on a shared machine).
 * Input bytes / wall seconds gives MB/s (1 MB = 1e6 bytes). Files are read from the
 * page cache in every case (just written, 24 GiB RAM), so this compares CPU and write
 * cost, not the disk's read speed. Each output is deleted before its step, so every
 * step writes a new file, as pack does.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { identityOrder, writePlacement } from "@colink/core";
import { writeSyntheticCheckpoint } from "../synthetic.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const dir = path.resolve(opt("dir", path.join(root, "out/bench-packer")));
const layers = Number(opt("layers", "2"));
const reps = Number(opt("reps", "2"));
const bin = path.join(root, "packages/cli/bin/colink.js");
const HIDDEN = 4096;
const FFN = 11008;

function timed(cmd: string[]): { seconds: number; cpu: number; maxRssMiB: number } {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", ...cmd], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr}`);
  const last = r.stderr.trim().split("\n").pop() ?? "";
  const [secs, user, sys, kib] = last.split(" ").map(Number);
  return { seconds: secs, cpu: user + sys, maxRssMiB: kib / 1024 };
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const model = path.join(dir, "llama7b-shape");
  mkdirSync(dir, { recursive: true });
  if (!existsSync(path.join(model, "model.safetensors"))) {
    process.stderr.write(`generating ${layers}-layer checkpoint in ${model} ...\n`);
    await writeSyntheticCheckpoint(model, { family: "llama", hidden: HIDDEN, ffn: FFN, layers, dtype: "F16", vocab: 256, seed: 1 });
  }
  // A random permutation per layer: bundles are gathered out of order, as for a real placement.
  const shuffled = path.join(dir, "placement-random.json");
  let s = 12345;
  const perm = (n: number): number[] => {
    const a = identityOrder(n);
    for (let i = n - 1; i > 0; i--) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const j = s % (i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };
  await writePlacement(shuffled, { format: "colink.placement/1", method: "random", layers: Array.from({ length: layers }, (_, l) => ({ layer: l, order: perm(FFN) })) });
  const src = path.join(model, "model.safetensors");
  const inBytes = statSync(src).size;
  const variants: { name: string; cmd: string[]; out: string }[] = [
    { name: "cp model.safetensors", cmd: ["cp", src, path.join(dir, "copy.bin")], out: path.join(dir, "copy.bin") },
    {
      name: "dd bs=4M conv=fsync (copy + fsync, as pack does)",
      cmd: ["dd", `if=${src}`, `of=${path.join(dir, "copy.bin")}`, "bs=4M", "conv=fsync", "status=none"],
      out: path.join(dir, "copy.bin"),
    },
    { name: "pack f16, identity order", cmd: ["node", bin, "pack", "-q", "-m", model, "-o", path.join(dir, "id.colink")], out: path.join(dir, "id.colink") },
    {
      name: "pack f16, random placement",
      cmd: ["node", bin, "pack", "-q", "-m", model, "-p", shuffled, "-o", path.join(dir, "rand.colink")],
      out: path.join(dir, "rand.colink"),
    },
    {
      name: "pack q4_0, random placement",
      cmd: ["node", bin, "pack", "-q", "-m", model, "-p", shuffled, "--dtype", "q4_0", "-o", path.join(dir, "q4.colink")],
      out: path.join(dir, "q4.colink"),
    },
    { name: "verify (f16 image)", cmd: ["node", bin, "verify", "-q", path.join(dir, "rand.colink")], out: "" },
  ];
  const results = new Map<string, { seconds: number[]; cpu: number[]; rss: number[]; outBytes: number }>();
  for (let r = 0; r < reps; r++)
    for (const v of variants) {
      // Every step writes a fresh file: overwriting an existing one measured 3-4x faster
      // here (blocks already allocated), and pack always writes a new temporary file.
      if (v.out) rmSync(v.out, { force: true });
      const t = timed(v.cmd);
      const e = results.get(v.name) ?? { seconds: [], cpu: [], rss: [], outBytes: 0 };
      e.seconds.push(t.seconds);
      e.cpu.push(t.cpu);
      e.rss.push(t.maxRssMiB);
      e.outBytes = v.out ? statSync(v.out).size : statSync(path.join(dir, "rand.colink")).size;
      results.set(v.name, e);
    }
  rmSync(path.join(dir, "copy.bin"), { force: true });
  const lines = [
    `input: ${layers} layers, d=${HIDDEN}, ${FFN} neurons, f16; model.safetensors ${(inBytes / 1e6).toFixed(0)} MB; best of ${reps} runs`,
    "",
    "| step | wall s (best) | wall s (median) | MB/s (input bytes, best) | CPU s user+sys (median) | peak RSS MiB | output MB |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [name, e] of results) {
    const best = Math.min(...e.seconds);
    const bytes = name.startsWith("verify") ? e.outBytes : inBytes;
    lines.push(
      `| ${name} | ${best.toFixed(2)} | ${median(e.seconds).toFixed(2)} | ${(bytes / 1e6 / best).toFixed(0)} | ${median(e.cpu).toFixed(2)} | ${Math.max(...e.rss).toFixed(0)} | ${(e.outBytes / 1e6).toFixed(0)} |`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});

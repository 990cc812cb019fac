#!/usr/bin/env node
/**
 * Runs the benchmark suites whose results are in docs/benchmarks.md, command by
 * command, exactly as the doc lists them (benchmarks never run as tests):
 *
 *   npm run bench -- --list              suites and their commands
 *   npm run bench -- placer-traces placer placer-speed
 *   npm run bench -- loader --dry-run    print the commands only
 *
 * Each command's output goes to the terminal and to bench-out/<suite>/<n>.log
 * (ignored by git). Suites build nothing: run `npx tsc -b` first (npm ci does).
 * A failing command stops the run with its exit code.
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const place = "node packages/placer/dist/bench/placement.js";
const W = "out/bench-placer";
const T7 = "out/bench-llama2-7b.arrow";
const timed = (method, F, flags = "", out = `out/bench-speed-${method}-${F}.json`) =>
  `/usr/bin/time -f "${method} F=${F}${flags && ` ${flags}`}: %e s wall, %U s user, %M KB peak RSS" node packages/cli/bin/colink.js place -t ${T7} -m ${method} --bundle-bytes 24576 --cache-fraction ${F}${flags && ` ${flags}`} -o ${out} --quiet`;
const FRONTIER = [256, 512, 1024, 1536]; // colink's --pair-tokens: its speed against its no-cache quality
const frontierRound = () => [
  timed("neuralink", 0, "", "out/bench-frontier/neuralink.json"),
  ...FRONTIER.map((t) => timed("colink", 0, `--pair-tokens ${t}`, `out/bench-frontier/colink-t${t}.json`)),
];

/** suite → commands (shell), in order, by the doc section they feed. */
const SUITES = {
  profiler: [
    "node packages/profiler/dist/bench/kernel.js",
    "/usr/bin/time -v node packages/profiler/dist/bench/profile.js --tokens 16384",
    "python3 scripts/make_tiny_models.py out/models --medium",
    "/usr/bin/time -v npx colink profile --model out/models/llama-medium-f16 --corpus data/corpus/fortunes-sample.txt --out out/prof/med.arrow --max-tokens 4096",
    "python3 scripts/numpy_forward.py out/models/llama-medium-f16 --bench 2048",
    "OPENBLAS_NUM_THREADS=1 python3 scripts/numpy_forward.py out/models/llama-medium-f16 --bench 2048",
  ],
  packer: ["node packages/packer/dist/bench/pack7b.js --reps 3"],
  "placer-traces": [
    `npx colink trace synth --shape llama2-7b --tokens 12800 --seed 1 --out ${T7}`,
    "npx colink trace synth --shape llama2-7b --tokens 10240 --seed 2 --reuse 0.95 --background 0.2 --p-in 0.9 --out out/bench-reuse.arrow",
    "npx colink trace synth --shape 11008x4 --tokens 8192 --seed 3 --density-lo 0.02 --density-hi 0.03 --reuse 0.9 --p-in 0.9 --background 0.3 --out out/bench-reuse-low.arrow",
    "npx colink trace synth --shape opt-6.7b --tokens 10240 --seed 4 --out out/bench-opt.arrow",
    "npx colink profile --model data/models/tiny-relu-llama --corpus data/corpus/fortunes-sample.txt --out out/real.arrow",
  ],
  placer: [
    `${place} --traces ${T7} --label llama2-7b --bundle-bytes 24576,6912 --fractions 0,0.05,0.1,0.2 --work ${W} --json ${W}/llama2-7b.json`,
    `${place} --traces out/bench-reuse.arrow --label reuse --bundle-bytes 24576,6912 --fractions 0,0.1 --work ${W} --json ${W}/reuse.json`,
    `${place} --traces out/bench-reuse-low.arrow --label reuse-low --bundle-bytes 24576,6912 --fractions 0,0.1 --work ${W} --json ${W}/reuse-low.json`,
    `${place} --traces out/bench-opt.arrow --label opt-6.7b --bundle-bytes 16386 --fractions 0,0.1 --work ${W} --json ${W}/opt.json`,
    `${place} --traces out/real.arrow --label real --bundle-bytes 24576,6912,1152 --fractions 0,0.05,0.1,0.2 --work ${W} --json ${W}/real.json`,
  ],
  // back to back, alternating the two methods twice so that drift in machine speed hits both
  "placer-speed": [timed("neuralink", 0.1), timed("colink", 0.1), timed("neuralink", 0.1), timed("colink", 0.1), timed("neuralink", 0), timed("colink", 0), timed("neuralink", 0), timed("colink", 0)],
  // every pair-sample size against neuralink, twice (F = 0, 24 KiB), then each placement's held-out cost
  "placer-frontier": [
    "mkdir -p out/bench-frontier",
    ...frontierRound(),
    ...frontierRound(),
    ...["neuralink", ...FRONTIER.map((t) => `colink-t${t}`)].map(
      (p) => `npx colink evaluate --placement out/bench-frontier/${p}.json -t ${T7} --bundle-bytes 24576 --json > out/bench-frontier/${p}.eval.json`,
    ),
  ],
  // the bundled model on a text it was not profiled on before: these docs at a fixed commit
  "placer-other-text": [
    "mkdir -p out/bench-text && for f in $(git ls-tree --name-only c7bc090 docs/ | grep '\\.md$'); do git show c7bc090:$f; done > out/bench-text/docs.txt",
    "npx colink profile --model data/models/tiny-relu-llama --corpus out/bench-text/docs.txt --out out/bench-text/docs.arrow --quiet",
    `${place} --traces out/bench-text/docs.arrow --label docs --methods neuralink,colink --bundle-bytes 24576,6912,1152 --fractions 0,0.1 --work out/bench-text --json out/bench-text/docs.json`,
  ],
  // core's greedy read splitting against the cheapest partition of the same slots (placements of `placer`)
  "placer-split": ["24576", "6912"].map(
    (b) =>
      `node packages/placer/dist/bench/split.js --traces ${T7} --bundle-bytes ${b} --fraction 0.1 --placements ${W}/llama2-7b-neuralink-b24576-f0.json,${W}/llama2-7b-colink-b${b}-f0.1.json`,
  ),
  "placer-steps": [
    `node packages/placer/dist/bench/breakdown.js --traces ${T7} --layer 16 --bundle-bytes 24576 --fraction 0.1`,
    `node packages/placer/dist/bench/breakdown.js --traces ${T7} --layer 16 --bundle-bytes 24576 --fraction 0`,
    // the paper's method as written (dense P matrix, comparison sort): same order as neuralinkOrder, and its time
    `node packages/placer/dist/bench/textbook.js --traces ${T7} --layer 16 --bundle-bytes 24576 --fraction 0.1`,
    `node packages/placer/dist/bench/orders.js --traces ${T7} --layer 16 --bundle-bytes 24576 --placement ${W}/llama2-7b-neuralink-b24576-f0.json --pair-tokens 256,512,1024,1536,2048,4096`,
    `node packages/placer/dist/bench/counting.js --traces ${T7} --layer 16 --tokens 1024,2048`,
    // static pin sets: frequency, run starts, pinCostScores with and without lone activations, marginal cost
    ...["6912", "24576"].map((b) => `node packages/placer/dist/bench/pinning.js --traces ${T7} --layers 0,16,31 --bundle-bytes ${b}`),
    "node packages/placer/dist/bench/pinning.js --traces out/bench-opt.arrow --layers 0,20,31 --bundle-bytes 16386",
    "node packages/placer/dist/bench/pinning.js --traces out/bench-reuse.arrow --layers 0,16,31 --bundle-bytes 6912",
    ...["24576", "1152"].map((b) => `node packages/placer/dist/bench/pinning.js --traces out/real.arrow --layers 0,1,2,3 --bundle-bytes ${b}`),
  ],
  "placer-headroom": [
    `node packages/placer/dist/bench/headroom.js --traces ${T7} --placement ${W}/llama2-7b-neuralink-b24576-f0.json --bundle-bytes 24576,6912 --fraction 0.1`,
    `node packages/placer/dist/bench/headroom.js --traces out/bench-reuse.arrow --placement ${W}/reuse-neuralink-b24576-f0.json --bundle-bytes 24576 --fraction 0.1`,
    `node packages/placer/dist/bench/headroom.js --traces out/real.arrow --placement ${W}/real-neuralink-b24576-f0.json --bundle-bytes 24576,6912,1152 --fraction 0.1`,
  ],
  // which generator settings make recency beat pinning (2 layers x 11008, neuralink's order)
  "placer-reuse-settings": Object.entries({
    defaults: "",
    r95: "--reuse 0.95 --background 0.2",
    r95p9: "--reuse 0.95 --background 0.2 --p-in 0.9",
    r98p9: "--reuse 0.98 --background 0.1 --p-in 0.9",
    r95d: "--reuse 0.95 --background 0.2 --density-lo 0.03 --density-hi 0.05",
  }).flatMap(([name, flags]) => [
    `mkdir -p out/bench-reuse-settings && npx colink trace synth --shape 11008x2 --tokens 5120 --seed 2 ${flags} --out out/bench-reuse-settings/${name}.arrow --quiet`,
    `npx colink place -t out/bench-reuse-settings/${name}.arrow -m neuralink --bundle-bytes 24576 --threads 1 -o out/bench-reuse-settings/${name}-nl.json --quiet`,
    `node packages/placer/dist/bench/headroom.js --traces out/bench-reuse-settings/${name}.arrow --placement out/bench-reuse-settings/${name}-nl.json --bundle-bytes 24576 --fraction 0.1`,
  ]),
  // the placer's targets on generator settings no other suite uses (seed 7, 2 layers x 11008):
  // each setting changes one parameter of the defaults (docs/traces.md#synthetic-traces)
  "placer-generality": [
    ...Object.entries({
      defaults: "",
      "alpha-0.6": "--alpha 0.6",
      "alpha-1.5": "--alpha 1.5",
      "background-0.1": "--background 0.1",
      "background-0.7": "--background 0.7",
      "cluster-16": "--cluster-size 16",
      "cluster-256": "--cluster-size 256",
      "cluster-512": "--cluster-size 512",
      "p-in-0.3": "--p-in 0.3",
      "reuse-0.3": "--reuse 0.3",
      "density-1-2": "--density-lo 0.01 --density-hi 0.02",
      "density-15-20": "--density-lo 0.15 --density-hi 0.2",
      // no co-activation structure at all: every active neuron an independent draw by hotness
      "background-1.0": "--background 1",
    }).flatMap(([name, flags]) => [
      `mkdir -p out/bench-generality && npx colink trace synth --shape 11008x2 --tokens 5120 --seed 7 ${flags} --out out/bench-generality/${name}.arrow --quiet`,
      `${place} --traces out/bench-generality/${name}.arrow --label ${name} --methods neuralink,colink --bundle-bytes 24576,6912 --fractions 0,0.1 --work out/bench-generality/placements --json out/bench-generality/${name}.json`,
    ]),
    "node packages/placer/dist/bench/ratios.js out/bench-generality/*.json",
  ],
  // the same targets at a Llama-2-70B layer's width (28672 neurons) and bundle sizes:
  // fp16 3 x 8192 x 2 B = 49152, q4_0 3 x 8192 x 18/32 B = 13824
  "placer-wide": [
    "mkdir -p out/bench-wide && npx colink trace synth --shape 28672x2 --tokens 5120 --seed 7 --out out/bench-wide/wide-28672.arrow --quiet",
    `${place} --traces out/bench-wide/wide-28672.arrow --label wide-28672 --methods neuralink,colink --bundle-bytes 49152,13824 --fractions 0,0.1 --work out/bench-wide/placements --json out/bench-wide/wide-28672.json`,
    "node packages/placer/dist/bench/ratios.js out/bench-wide/wide-28672.json",
  ],
  loader: ["node packages/loader/dist/bench/plan.js", "node packages/loader/dist/bench/io.js --tokens 200"],
  "loader-replay": [
    "npx colink profile --model data/models/tiny-relu-llama --corpus data/corpus/fortunes-sample.txt --out out/loader/real.arrow",
    ...["identity", "colink"].flatMap((m) => [
      `npx colink place -t out/loader/real.arrow -m ${m} --cache-fraction 0.1 --bundle-bytes 1152 -o out/loader/p-${m}.json`,
      `npx colink pack -m data/models/tiny-relu-llama -p out/loader/p-${m}.json -o out/loader/${m}.colink --dtype f16`,
    ]),
    "npx colink replay --image out/loader/identity.colink --image out/loader/colink.colink --traces out/loader/real.arrow --cache-mib 0.334",
    "node packages/loader/dist/bench/policies.js --traces out/loader/real.arrow --placement out/loader/p-colink.json --bundle 1152 --max-tokens 10000",
    "npx colink trace synth --shape 11008x2 --tokens 4096 --seed 1 --out out/loader/s7b.arrow",
    ...["colink", "identity"].flatMap((m) => [
      `npx colink place -t out/loader/s7b.arrow -m ${m} --cache-fraction 0.1 --bundle-bytes 24576 -o out/loader/s-${m}.json`,
      `node packages/loader/dist/bench/policies.js --traces out/loader/s7b.arrow --placement out/loader/s-${m}.json --bundle 24576 --max-tokens 300`,
    ]),
  ],
  pipeline: ["rm -rf out/demo && /usr/bin/time -v npm run demo", "/usr/bin/time -v npm run demo"],
};

const args = process.argv.slice(2);
const dry = args.includes("--dry-run");
const names = args.filter((a) => !a.startsWith("--"));
if (args.includes("--list") || names.length === 0) {
  for (const [name, cmds] of Object.entries(SUITES)) {
    process.stdout.write(`${name}\n`);
    for (const c of cmds) process.stdout.write(`  ${c}\n`);
  }
  if (names.length === 0 && !args.includes("--list")) process.stdout.write("\nusage: npm run bench -- <suite> [<suite> ...] [--dry-run]\n");
  process.exit(0);
}
for (const n of names)
  if (!SUITES[n]) {
    process.stderr.write(`bench: unknown suite "${n}": expected ${Object.keys(SUITES).join(", ")}\n`);
    process.exit(1);
  }

function run(cmd, log) {
  return new Promise((resolve) => {
    const out = createWriteStream(log);
    out.write(`$ ${cmd}\n`);
    const child = spawn("bash", ["-c", cmd], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    for (const s of [child.stdout, child.stderr]) {
      s.on("data", (d) => {
        process.stdout.write(d);
        out.write(d);
      });
    }
    child.on("close", (code) => out.end(() => resolve(code ?? 1)));
  });
}

for (const name of names) {
  const dir = path.join(root, "bench-out", name);
  if (!dry) mkdirSync(dir, { recursive: true });
  for (const [i, cmd] of SUITES[name].entries()) {
    process.stdout.write(`\n[${name} ${i + 1}/${SUITES[name].length}] ${new Date().toISOString()} $ ${cmd}\n`);
    if (dry) continue;
    const code = await run(cmd, path.join(dir, `${i + 1}.log`));
    if (code !== 0) {
      process.stderr.write(`bench: ${name} command ${i + 1} failed (exit ${code})\n`);
      process.exit(code);
    }
  }
}

/**
 * `colink pipeline` end to end on the bundled model and corpus, small enough for CI:
 * a full run, a rerun that reuses every stage, a changed parameter that redoes only
 * what depends on it, a run killed with SIGKILL mid-way and resumed, config file +
 * flag overrides, and a bad config.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { writeNpy } from "@colink/core";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, ROOT, colink, tempDir } from "./helpers.js";

// Small runs: 2048 profiled tokens (16 sequences of 128; 3 held out at --holdout 0.2).
const SMALL = ["--max-tokens", "2048"];
const RUN_MS = 300_000;
const out = tempDir("colink-pipeline-");
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Summary {
  status: string;
  chosen: string;
  image: string;
  report: string;
  cached_stages: number;
  stages: { stage: string; cached: boolean }[];
  methods: Record<
    string,
    { reads_per_token: number; io_ms_per_token: number; wall_ms_per_token: number; speedup_vs_identity: number; speedup_vs_neuralink: number; choices?: Record<string, number> }
  >;
  config: { cacheFraction: number; maxTokens: number; name: string; device: string };
  tokens: { fit: number; heldout: number };
}

const summaryOf = (name: string): Summary => JSON.parse(readFileSync(path.join(out, name, "summary.json"), "utf8"));
const cachedSet = (s: Summary): Record<string, boolean> => Object.fromEntries(s.stages.map((x) => [x.stage, x.cached]));

describe("colink pipeline", () => {
  it("runs every stage, prints the table, writes summary.json, report.html and the image", () => {
    const r = colink(["pipeline", "--out", out, "--name", "a", ...SMALL]);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(0);
    for (const m of ["identity", "frequency", "neuralink", "colink"]) expect(r.stdout).toMatch(new RegExp(`^${m}`, "m"));
    expect(r.stdout).toMatch(/reads\/token/);
    expect(r.stdout).toMatch(/^colink's choice per layer: /m);
    const s = summaryOf("a");
    expect(s.status).toBe("ok");
    expect(s.cached_stages).toBe(0);
    expect(Object.keys(s.methods)).toEqual(["identity", "frequency", "neuralink", "colink"]);
    expect(s.methods.identity.speedup_vs_identity).toBe(1);
    expect(s.methods.neuralink.speedup_vs_neuralink).toBe(1);
    for (const m of Object.values(s.methods)) expect(m.reads_per_token).toBeGreaterThan(0);
    // each method's per-layer choices, one per layer of the bundled model
    expect(Object.values(s.methods.colink.choices ?? {}).reduce((a, b) => a + b, 0)).toBe(4);
    expect(s.tokens.heldout).toBeGreaterThan(0);
    expect(existsSync(s.report)).toBe(true);
    expect(readFileSync(s.report, "utf8")).toMatch(/data-chart="heatmap-after"/);
    // model.colink points at the packed, verified image of the chosen method
    expect(realpathSync(s.image)).toMatch(/stages\/pack-colink-[0-9a-f]{12}\/model\.colink$/);
  }, RUN_MS);

  it("a rerun reuses every stage and says so, with the same results", () => {
    const reportBefore = readFileSync(path.join(out, "a", "report.html"));
    const r = colink(["pipeline", "--out", out, "--name", "a", ...SMALL]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^profile: cached \(digest [0-9a-f]{12}\)$/m);
    const s = summaryOf("a");
    expect(s.cached_stages).toBe(s.stages.length);
    expect(r.stdout).toMatch(new RegExp(`stages: ${s.stages.length} \\(${s.stages.length} cached\\)`));
    // the report depends only on the inputs, not on whether stages ran or were reused
    expect(readFileSync(path.join(out, "a", "report.html")).equals(reportBefore)).toBe(true);
  }, RUN_MS);

  it("a changed parameter redoes only the stages that depend on it", () => {
    const before = summaryOf("a");
    const r = colink(["pipeline", "--out", out, "--name", "a", ...SMALL, "--cache-fraction", "0.05", "--json"]);
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.config.cacheFraction).toBe(0.05);
    const c = cachedSet(s);
    expect(c.profile).toBe(true);
    expect(c["place-colink"]).toBe(false);
    expect(c["replay-colink"]).toBe(false);
    // results differ from the 10% run
    expect(s.methods.identity.io_ms_per_token).not.toBe(before.methods.identity.io_ms_per_token);
  }, RUN_MS);

  it("killed with SIGKILL after a stage completed, a rerun resumes and matches an uninterrupted run", async () => {
    const name = "killed";
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, "pipeline", "--out", out, "--name", name, ...SMALL], {
        cwd: ROOT,
        env: { ...process.env, COLINK_DEBUG: "" },
      });
      let err = "";
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
        // kill as soon as the first stage is complete and the next one has started
        if (/^profile: done/m.test(err) && /^place-\w+: running/m.test(err)) child.kill("SIGKILL");
      });
      child.on("exit", (code, signal) => {
        if (signal === "SIGKILL") resolve();
        else reject(new Error(`pipeline ended before it could be killed (code ${code}): ${err}`));
      });
    });
    expect(existsSync(path.join(out, name, "summary.json"))).toBe(false);
    // the interrupted stage left a directory without a manifest
    const stageDirs = readdirSync(path.join(out, name, "stages")).filter((d) => d.startsWith("place-"));
    expect(stageDirs.length).toBeGreaterThan(0);
    expect(stageDirs.some((d) => !existsSync(path.join(out, name, "stages", d, "manifest.json")))).toBe(true);

    const r = colink(["pipeline", "--out", out, "--name", name, ...SMALL]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^profile: cached/m);
    const s = summaryOf(name);
    expect(s.status).toBe("ok");
    expect(cachedSet(s).profile).toBe(true);
    // same inputs and parameters as run "a" at 10%: identical simulated results
    const b = colink(["pipeline", "--out", out, "--name", "a", ...SMALL, "--json"]);
    const ref = JSON.parse(b.stdout) as Summary;
    for (const m of Object.keys(ref.methods)) {
      expect(s.methods[m].reads_per_token).toBe(ref.methods[m].reads_per_token);
      expect(s.methods[m].io_ms_per_token).toBe(ref.methods[m].io_ms_per_token);
    }
    expect(readFileSync(path.join(out, name, "report.html")).equals(readFileSync(path.join(out, "a", "report.html")))).toBe(true);
  }, 2 * RUN_MS);

  it("a config file sets the run; flags override it", () => {
    const cfg = path.join(out, "release.json");
    writeFileSync(cfg, JSON.stringify({ name: "from-file", maxTokens: 2048, device: "ufs31", out: "." }));
    const r = colink(["pipeline", "--config", cfg, "--name", "from-flag", "--json"]);
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.config.name).toBe("from-flag");
    expect(s.config.device).toBe("ufs31");
    expect(s.config.maxTokens).toBe(2048);
    expect(existsSync(path.join(out, "from-flag", "summary.json"))).toBe(true);
    expect(existsSync(path.join(out, "from-file"))).toBe(false);
  }, RUN_MS);

  it("--tokenizer profiles through a tokenizer.json, and a changed tokenizer redoes the profile", () => {
    const tok = path.join(out, "tokenizer.json");
    // a word-level vocabulary inside the bundled model's 256 ids (unknown words: id 0)
    const vocab: Record<string, number> = { "[UNK]": 0 };
    for (const w of "the a to of and you is in it that be for your not are with have this will on".split(" ")) vocab[w] = Object.keys(vocab).length;
    const unk = { id: 0, content: "[UNK]", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
    const tokenizer = (v: Record<string, number>) => ({
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [unk],
      normalizer: { type: "Lowercase" },
      pre_tokenizer: { type: "Whitespace" },
      post_processor: null,
      decoder: null,
      model: { type: "WordLevel", vocab: v, unk_token: "[UNK]" },
    });
    writeFileSync(tok, JSON.stringify(tokenizer(vocab)));
    const profileManifest = (name: string) => {
      const dir = readdirSync(path.join(out, name, "stages")).find((d) => d.startsWith("profile-")) as string;
      return JSON.parse(readFileSync(path.join(out, name, "stages", dir, "manifest.json"), "utf8"));
    };
    const r = colink(["pipeline", "--out", out, "--name", "tok", ...SMALL, "--tokenizer", tok, "--methods", "identity,neuralink"]);
    expect(r.status).toBe(0);
    expect(profileManifest("tok").result.tokenizer).toMatch(/^tokenizer\.json sha256:[0-9a-f]{64}$/);
    expect(summaryOf("tok").status).toBe("ok");
    writeFileSync(tok, JSON.stringify(tokenizer({ ...vocab, fortune: 200 })));
    const again = colink(["pipeline", "--out", out, "--name", "tok", ...SMALL, "--tokenizer", tok, "--methods", "identity,neuralink"]);
    expect(again.status).toBe(0);
    expect(cachedSet(summaryOf("tok")).profile).toBe(false);
  }, 2 * RUN_MS);

  it("--token-ids profiles pre-tokenized ids instead of the corpus, as the same bytes profiled as text", async () => {
    // the corpus's first 2048 bytes, as int32 ids and as text: the bundled model's vocabulary is bytes
    const text = readFileSync(path.join(ROOT, "data/corpus/fortunes-sample.txt")).subarray(0, 2048);
    const ids = path.join(out, "ids.npy");
    await writeNpy(ids, "<i4", [text.length], (append) => append(new Uint8Array(Int32Array.from(text).buffer)));
    const corpus = path.join(out, "first2048.txt");
    writeFileSync(corpus, text);
    const small = ["--methods", "identity,neuralink"];
    const r = colink(["pipeline", "--out", out, "--name", "ids", "--token-ids", ids, ...small]);
    expect(r.status, r.stderr).toBe(0);
    const dir = readdirSync(path.join(out, "ids", "stages")).find((d) => d.startsWith("profile-")) as string;
    const m = JSON.parse(readFileSync(path.join(out, "ids", "stages", dir, "manifest.json"), "utf8"));
    expect(m.result.tokenizer).toBe("token-ids ids.npy");
    expect(Object.keys(m.inputs)).toContain("tokenIds");
    expect(Object.keys(m.inputs)).not.toContain("corpus");
    expect(colink(["pipeline", "--out", out, "--name", "text", "--corpus", corpus, "--tokenizer", "bytes", ...small]).status).toBe(0);
    const [a, b] = [summaryOf("ids"), summaryOf("text")];
    expect(a.tokens).toEqual(b.tokens);
    // everything the cost model and the replay count (not the wall clock) is the same
    const counted = (x: Summary) => Object.fromEntries(Object.entries(x.methods).map(([k, { wall_ms_per_token: _w, ...v }]) => [k, v]));
    expect(counted(a)).toEqual(counted(b));
    const both = colink(["pipeline", "--out", out, "--name", "both", "--token-ids", ids, "--corpus", corpus]);
    expect(both.status).toBe(1);
    expect(both.stderr.trim().split("\n")).toEqual(["colink: pipeline: give either corpus or tokenIds, not both"]);
  }, 2 * RUN_MS);

  it("--activation target-sparsity profiles with the calibrated rule", () => {
    const r = colink(["pipeline", "--out", out, "--name", "sparse", ...SMALL, "--activation", "target-sparsity", "--target", "0.05", "--methods", "identity,neuralink"]);
    expect(r.status, r.stderr).toBe(0);
    const dir = readdirSync(path.join(out, "sparse", "stages")).find((d) => d.startsWith("profile-")) as string;
    const m = JSON.parse(readFileSync(path.join(out, "sparse", "stages", dir, "manifest.json"), "utf8"));
    expect(m.params).toMatchObject({ activation: "target-sparsity", target: 0.05 });
    expect(m.result.activation.rule).toBe("target-sparsity");
    // calibrated on the first batch, so about 5% of (token, neuron) values on every layer
    for (const f of m.result.activeFraction) expect(Math.abs(f - 0.05)).toBeLessThan(0.02);
  }, RUN_MS);

  it("a bad config fails with one line and exit 1", () => {
    const cfg = path.join(out, "bad.json");
    writeFileSync(cfg, JSON.stringify({ cacheFraction: 2 }));
    const r = colink(["pipeline", "--config", cfg]);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cacheFraction must be a number in \[0, 1\)/);
  });

  it("a stage that fails exits 1 and leaves summary.json with status error for CI", () => {
    const corpus = path.join(out, "tiny.txt");
    writeFileSync(corpus, "short");
    const r = colink(["pipeline", "--out", out, "--name", "broken", "--corpus", corpus]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^colink: .*tiny\.txt/m);
    const s = JSON.parse(readFileSync(path.join(out, "broken", "summary.json"), "utf8"));
    expect(s.status).toBe("error");
    expect(s.error.message).toMatch(/tiny\.txt/);
  }, RUN_MS);
});

/** The profiler's commands end to end: the built CLI on the bundled model and corpus, and on bad input. */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CORPUS, colink, MODEL, tempDir } from "./helpers.js";

let dir: string;
beforeAll(() => {
  dir = tempDir("colink-e2e-profiler-");
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Asserts a one-line user error (exit 1) naming `file`, and that `out` was not created. */
function expectUserError(args: string[], pattern: RegExp, out?: string): void {
  const r = colink(args);
  expect(r.status).toBe(1);
  const lines = r.stderr.trim().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  if (out) {
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(path.dirname(out)).filter((f) => f.includes(path.basename(out)))).toEqual([]);
  }
}

describe("colink profile and trace", () => {
  it("profile → stats → export → import → export round-trips the masks", () => {
    const trace = path.join(dir, "t.arrow");
    const p = colink(["profile", "--model", MODEL, "--corpus", CORPUS, "--out", trace, "--seq-len", "64", "--max-tokens", "640", "--json"]);
    expect(p.stderr).toMatch(/reading the corpus as bytes/);
    expect(p.status).toBe(0);
    const pr = JSON.parse(p.stdout);
    expect(pr).toMatchObject({ tokens: 640, sequences: 10, droppedTokens: 0, layers: 4, neurons: 768 });
    expect(pr.activeFraction).toHaveLength(4);
    // the trace records the model's fp16 bundle (3 x 192 x 2 B), which place then assumes
    const placed = colink(["place", "-t", trace, "-m", "frequency", "-o", path.join(dir, "p.json"), "--json", "--quiet"]);
    expect(placed.status).toBe(0);
    expect(JSON.parse(placed.stdout)).toMatchObject({ bundleBytes: 1152, bundleBytesFrom: "trace" });

    const s = colink(["trace", "stats", trace, "--json"]);
    expect(s.status).toBe(0);
    const st = JSON.parse(s.stdout);
    expect(st.perLayer.map((l: { activeFraction: number }) => l.activeFraction)).toEqual(pr.activeFraction);
    const text = colink(["trace", "stats", trace]);
    expect(text.stdout).toMatch(/hot-10% share/);

    const m1 = path.join(dir, "m1.npy");
    const m2 = path.join(dir, "m2.npy");
    const back = path.join(dir, "back.arrow");
    expect(colink(["trace", "export", trace, "--out", m1]).status).toBe(0);
    expect(colink(["trace", "import", m1, "--out", back, "--seq-len", "64"]).status).toBe(0);
    expect(colink(["trace", "export", back, "--out", m2]).status).toBe(0);
    expect(fs.readFileSync(m1).equals(fs.readFileSync(m2))).toBe(true);
    expect(fs.statSync(m1).size).toBeGreaterThan(640 * 4 * 768);
  });

  it("refuses bad input with one line naming the file, exit 1, no output", () => {
    const out = path.join(dir, "bad.arrow");
    // Truncated safetensors: the header promises more data than the file holds.
    const trunc = path.join(dir, "trunc");
    fs.mkdirSync(trunc);
    fs.copyFileSync(path.join(MODEL, "config.json"), path.join(trunc, "config.json"));
    const st = fs.readFileSync(path.join(MODEL, "model.safetensors"));
    fs.writeFileSync(path.join(trunc, "model.safetensors"), st.subarray(0, st.length - 1000));
    expectUserError(["profile", "--model", trunc, "--corpus", CORPUS, "--out", out], /model\.safetensors: not a valid safetensors file: .*past the end/, out);

    // Lying header length.
    const lying = path.join(dir, "lying");
    fs.mkdirSync(lying);
    fs.copyFileSync(path.join(MODEL, "config.json"), path.join(lying, "config.json"));
    const bad = Buffer.from(st.subarray(0, 4096));
    bad.writeBigUInt64LE(10n ** 12n, 0);
    fs.writeFileSync(path.join(lying, "model.safetensors"), bad);
    expectUserError(["profile", "--model", lying, "--corpus", CORPUS, "--out", out], /model\.safetensors: .*header length/, out);

    // Missing tensor: a checkpoint holding only the embedding.
    const missing = path.join(dir, "missing");
    fs.mkdirSync(missing);
    fs.copyFileSync(path.join(MODEL, "config.json"), path.join(missing, "config.json"));
    const n = Number(st.readBigUInt64LE(0));
    const header = JSON.parse(st.subarray(8, 8 + n).toString());
    const emb = header["model.embed_tokens.weight"];
    const bytes = st.subarray(8 + n + emb.data_offsets[0], 8 + n + emb.data_offsets[1]);
    const h = Buffer.from(JSON.stringify({ "model.embed_tokens.weight": { ...emb, data_offsets: [0, bytes.length] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    fs.writeFileSync(path.join(missing, "model.safetensors"), Buffer.concat([len, h, bytes]));
    expectUserError(
      ["profile", "--model", missing, "--corpus", CORPUS, "--out", out, "--max-tokens", "256"],
      /model\.safetensors: tensor "model\.layers\.0\.input_layernorm\.weight" is missing/,
      out,
    );

    // Unsupported architecture.
    const gpt2 = path.join(dir, "gpt2");
    fs.mkdirSync(gpt2);
    fs.writeFileSync(path.join(gpt2, "config.json"), JSON.stringify({ architectures: ["GPT2LMHeadModel"] }));
    fs.copyFileSync(path.join(MODEL, "model.safetensors"), path.join(gpt2, "model.safetensors"));
    expectUserError(["profile", "--model", gpt2, "--corpus", CORPUS, "--out", out], /config\.json: architecture GPT2LMHeadModel is not supported/, out);

    // Unsupported dtype: the q_proj weight stored as I8.
    const i8 = path.join(dir, "i8");
    fs.mkdirSync(i8);
    fs.copyFileSync(path.join(MODEL, "config.json"), path.join(i8, "config.json"));
    const name = "model.layers.0.self_attn.q_proj.weight";
    const q = header[name];
    const h8 = { ...header, [name]: { dtype: "I8", shape: [q.data_offsets[1] - q.data_offsets[0]], data_offsets: q.data_offsets } };
    const hb = Buffer.from(JSON.stringify(h8));
    const l8 = Buffer.alloc(8);
    l8.writeBigUInt64LE(BigInt(hb.length));
    fs.writeFileSync(path.join(i8, "model.safetensors"), Buffer.concat([l8, hb, st.subarray(8 + n)]));
    expectUserError(["profile", "--model", i8, "--corpus", CORPUS, "--out", out, "--max-tokens", "256"], /tensor "model\.layers\.0\.self_attn\.q_proj\.weight" has dtype I8/, out);

    // Empty corpus.
    const empty = path.join(dir, "empty.txt");
    fs.writeFileSync(empty, "");
    expectUserError(["profile", "--model", MODEL, "--corpus", empty, "--out", out], /empty\.txt: 0 tokens/, out);

    // Masks of the wrong dtype and rank.
    const f4 = path.join(dir, "f4.npy");
    const hdr = (descr: string, shape: string, data: number) => {
      let d = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
      d += `${" ".repeat((64 - ((10 + d.length + 1) % 64)) % 64)}\n`;
      const b = Buffer.alloc(10 + d.length + data);
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(b);
      b.writeUInt16LE(d.length, 8);
      b.write(d, 10, "latin1");
      return b;
    };
    fs.writeFileSync(f4, hdr("<f4", "(2, 1, 2)", 16));
    expectUserError(["trace", "import", f4, "--out", out], /f4\.npy: masks must be uint8 or bool, got dtype f4/, out);
    const r2 = path.join(dir, "r2.npy");
    fs.writeFileSync(r2, hdr("|u1", "(4, 2)", 8));
    expectUserError(["trace", "import", r2, "--out", out], /r2\.npy: masks must have shape \(tokens, layers, neurons\)/, out);
  });
});

import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ColinkError } from "./errors.js";
import { f32ArrayToBf16, f32ArrayToF16 } from "./half.js";
import { Checkpoint } from "./checkpoint.js";
import { encodeSafetensors, f32Bytes, SafetensorsFile } from "./safetensors.js";

let dir: string;
const a = Float32Array.from({ length: 12 }, (_, i) => i - 5.5); // [3, 4]
const b = Float32Array.from([0.5, -1, 2, 1024]);

function u16Bytes(x: Uint16Array): Uint8Array {
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

async function expectError(p: Promise<unknown>, code: string, text: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (err) => err,
  );
  expect(e).toBeInstanceOf(ColinkError);
  expect((e as ColinkError).code).toBe(code);
  expect((e as Error).message).toMatch(text);
  // the file is named once, by its path (ColinkError's prefix), not again by its base name
  const file = (e as ColinkError).file;
  if (file !== undefined) expect((e as Error).message.startsWith(`${file}: ${path.basename(file)}:`)).toBe(false);
}

/** Writes a safetensors file whose header JSON is `header` verbatim, followed by `dataBytes` zero bytes. */
async function rawFile(name: string, header: string, dataBytes: number, lenOverride?: number): Promise<string> {
  const h = new TextEncoder().encode(header);
  const buf = new Uint8Array(8 + h.length + dataBytes);
  new DataView(buf.buffer).setBigUint64(0, BigInt(lenOverride ?? h.length), true);
  buf.set(h, 8);
  const f = path.join(dir, name);
  await fs.writeFile(f, buf);
  return f;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "colink-st-"));
  const single = path.join(dir, "single");
  await fs.mkdir(single);
  await fs.writeFile(path.join(single, "config.json"), '{"architectures": ["LlamaForCausalLM"]}');
  await fs.writeFile(
    path.join(single, "model.safetensors"),
    encodeSafetensors({
      a: { dtype: "F32", shape: [3, 4], data: f32Bytes(a) },
      h: { dtype: "F16", shape: [3, 4], data: u16Bytes(f32ArrayToF16(a)) },
      bb: { dtype: "BF16", shape: [2, 2], data: u16Bytes(f32ArrayToBf16(b)) },
      ints: { dtype: "I32", shape: [2], data: new Uint8Array(8) },
    }),
  );
  const sharded = path.join(dir, "sharded");
  await fs.mkdir(sharded);
  await fs.writeFile(path.join(sharded, "config.json"), "{}");
  await fs.writeFile(path.join(sharded, "model-00001-of-00002.safetensors"), encodeSafetensors({ a: { dtype: "F32", shape: [3, 4], data: f32Bytes(a) } }));
  await fs.writeFile(path.join(sharded, "model-00002-of-00002.safetensors"), encodeSafetensors({ b: { dtype: "F32", shape: [4], data: f32Bytes(b) } }));
  await fs.writeFile(
    path.join(sharded, "model.safetensors.index.json"),
    JSON.stringify({ metadata: {}, weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" } }),
  );
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("Checkpoint", () => {
  it("reads F32, F16 and BF16 tensors, whole and by rows", async () => {
    const ck = await Checkpoint.open(path.join(dir, "single"));
    try {
      expect(ck.config.architectures).toEqual(["LlamaForCausalLM"]);
      expect(ck.configText).toContain("LlamaForCausalLM");
      expect(ck.names()).toEqual(["a", "h", "bb", "ints"]);
      expect(Array.from(await ck.readF32("a"))).toEqual(Array.from(a));
      expect(Array.from(await ck.readF32("h"))).toEqual(Array.from(a)); // halves of integers are exact in f16
      expect(Array.from(await ck.readF32("bb"))).toEqual(Array.from(b));
      const into = new Float32Array(30).fill(-1);
      await ck.readF32Into("h", into, 2);
      await ck.readF32Into("bb", into, 14);
      expect(Array.from(into)).toEqual([-1, -1, ...a, ...b, ...new Array(12).fill(-1)]);
      expect(Array.from(await ck.readRowsF32("a", 1, 3))).toEqual(Array.from(a.subarray(4, 12)));
      expect(Array.from(await ck.readRowsF32("h", 2, 3))).toEqual(Array.from(a.subarray(8, 12)));
      const t = ck.tensor("h");
      expect(t.end - t.start).toBe(24);
      expect(t.shape).toEqual([3, 4]);
      const raw = await ck.readBytes("a", 4, 8);
      expect(new Float32Array(raw.buffer)[0]).toBe(a[1]);
      // Absolute offsets: the bytes at [start, end) of the file are the tensor.
      const file = await fs.readFile(t.file);
      expect(Buffer.compare(file.subarray(t.start, t.end), Buffer.from(await ck.readBytes("h")))).toBe(0);
      await expectError(ck.readF32("ints"), "UNSUPPORTED", /tensor "ints" has dtype I32/);
      await expectError(
        Promise.resolve().then(() => ck.tensor("model.layers.3.mlp.up_proj.weight")),
        "NOT_FOUND",
        /model\.safetensors: tensor "model\.layers\.3\.mlp\.up_proj\.weight" is missing/,
      );
      await expectError(ck.readRowsF32("a", 2, 4), "BAD_ARGUMENT", /rows \[2, 4\)/);
    } finally {
      await ck.close();
    }
  });

  it("reads sharded checkpoints through the index", async () => {
    const ck = await Checkpoint.open(path.join(dir, "sharded"));
    try {
      expect(ck.has("a") && ck.has("b")).toBe(true);
      expect(path.basename(ck.tensor("b").file)).toBe("model-00002-of-00002.safetensors");
      expect(Array.from(await ck.readF32("b"))).toEqual(Array.from(b));
      await expectError(Promise.resolve().then(() => ck.tensor("zz")), "NOT_FOUND", /model\.safetensors\.index\.json: tensor "zz" is missing/);
    } finally {
      await ck.close();
    }
  });

  it("answers to model.-prefixed names for a base-model checkpoint", async () => {
    const d = path.join(dir, "base");
    await fs.mkdir(d);
    await fs.writeFile(path.join(d, "config.json"), "{}");
    await fs.writeFile(path.join(d, "model.safetensors"), encodeSafetensors({ "decoder.layers.0.fc1.weight": { dtype: "F32", shape: [4], data: f32Bytes(b) } }));
    const ck = await Checkpoint.open(d);
    try {
      expect(Array.from(await ck.readF32("model.decoder.layers.0.fc1.weight"))).toEqual(Array.from(b));
      expect(ck.tensor("model.decoder.layers.0.fc1.weight").name).toBe("decoder.layers.0.fc1.weight");
    } finally {
      await ck.close();
    }
  });

  it("rejects a directory without weights or config", async () => {
    const empty = path.join(dir, "empty");
    await fs.mkdir(empty);
    await expectError(Checkpoint.open(empty), "NOT_FOUND", /config\.json/);
    await fs.writeFile(path.join(empty, "config.json"), "{}");
    await expectError(Checkpoint.open(empty), "NOT_FOUND", /no model\.safetensors/);
  });
});

describe("header validation", () => {
  it("rejects truncated and lying headers with one line naming the file", async () => {
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ["short", () => rawFile("short.safetensors", "", 0).then((f) => fs.truncate(f, 5).then(() => SafetensorsFile.open(f))), /shorter than the 8-byte/],
      ["huge length", () => rawFile("huge.safetensors", "{}", 0, 2 ** 40).then((f) => SafetensorsFile.open(f)), /header length \d+ is not in/],
      ["past end", () => rawFile("past.safetensors", "{}", 0, 100).then((f) => SafetensorsFile.open(f)), /runs past the end/],
      ["not json", () => rawFile("nojson.safetensors", "{not json", 0).then((f) => SafetensorsFile.open(f)), /not valid UTF-8 JSON/],
      [
        "size mismatch",
        () => rawFile("size.safetensors", '{"x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}', 12).then((f) => SafetensorsFile.open(f)),
        /spans 12 bytes, but shape \[2, 2\] of F32 needs 16/,
      ],
      [
        "truncated data",
        () => rawFile("trunc.safetensors", '{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', 8).then((f) => SafetensorsFile.open(f)),
        /past the end of the data section/,
      ],
      [
        "overlap",
        () => rawFile(
          "overlap.safetensors",
          '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}',
          8,
        ).then((f) => SafetensorsFile.open(f)),
        /"x" and "y" overlap/,
      ],
      [
        "dtype",
        () => rawFile("dtype.safetensors", '{"x":{"dtype":"F12","shape":[1],"data_offsets":[0,1]}}', 1).then((f) => SafetensorsFile.open(f)),
        /unknown dtype "F12"/,
      ],
    ];
    for (const [, p, re] of cases) await expectError(p(), "BAD_FORMAT", re);
  });

  it("names the shard a lying index points to", async () => {
    const d = path.join(dir, "lying-index");
    await fs.mkdir(d);
    await fs.writeFile(path.join(d, "config.json"), "{}");
    await fs.writeFile(path.join(d, "s1.safetensors"), encodeSafetensors({ a: { dtype: "F32", shape: [1], data: new Uint8Array(4) } }));
    await fs.writeFile(path.join(d, "model.safetensors.index.json"), JSON.stringify({ weight_map: { a: "s1.safetensors", c: "s1.safetensors" } }));
    await expectError(Checkpoint.open(d), "BAD_FORMAT", /tensor "c" is listed in shard s1\.safetensors/);
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { RecordBatch, Schema, Table, tableFromIPC, tableToIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { ColinkError } from "./errors.js";
import { holdoutSplit, type TraceMeta, TraceReader, TraceWriter, tokenColumns } from "./trace.js";

const dir = mkdtempSync(path.join(tmpdir(), "colink-trace-"));

function meta(over: Partial<TraceMeta> = {}): TraceMeta {
  return {
    schemaVersion: 1,
    modelId: "m",
    configDigest: "c",
    layers: 2,
    neurons: 8,
    activation: { rule: "nonzero" },
    corpusDigest: "d",
    seqLen: 2,
    sequences: 2,
    tokens: 4,
    holdout: 0.5,
    seed: 3,
    source: "synth",
    ...over,
  };
}

async function readAll(file: string) {
  const r = await TraceReader.open(file);
  const rows: { layer: number; seq: number; pos: number; split: number; ids: number[] }[] = [];
  for await (const c of r.chunks())
    for (let t = 0; t < c.seq.length; t++)
      rows.push({
        layer: c.layer,
        seq: c.seq[t],
        pos: c.pos[t],
        split: c.split[t],
        ids: Array.from(c.ids.subarray(c.offsets[t], c.offsets[t + 1])),
      });
  await r.close();
  return { meta: r.meta, rows };
}

describe("trace files", () => {
  it("round-trips chunks and metadata", async () => {
    const file = path.join(dir, "rt.arrow");
    const w = await TraceWriter.create(file, meta({ extra: { note: "x" } }));
    for (let layer = 0; layer < 2; layer++)
      w.write({
        layer,
        seq: Uint32Array.from([0, 0, 1, 1]),
        pos: Uint32Array.from([0, 1, 0, 1]),
        split: Uint8Array.from([0, 0, 1, 1]),
        offsets: Int32Array.from([0, 2, 2, 5, 6]),
        ids: Uint16Array.from([1, 7, 0, 3, 4, layer]),
      });
    await w.close();
    const { meta: m, rows } = await readAll(file);
    expect(m).toMatchObject({ modelId: "m", layers: 2, neurons: 8, seqLen: 2, holdout: 0.5, source: "synth" });
    expect(m.extra).toEqual({ note: "x" });
    expect(rows).toHaveLength(8);
    expect(rows[0]).toEqual({ layer: 0, seq: 0, pos: 0, split: 0, ids: [1, 7] });
    expect(rows[1].ids).toEqual([]);
    expect(rows[7]).toEqual({ layer: 1, seq: 1, pos: 1, split: 1, ids: [1] });
  });

  it("writes a readable file for a trace with no tokens", async () => {
    const file = path.join(dir, "empty.arrow");
    const w = await TraceWriter.create(file, meta({ sequences: 0, tokens: 0 }));
    await w.close();
    const { meta: m, rows } = await readAll(file);
    expect(m.tokens).toBe(0);
    expect(rows).toHaveLength(0);
  });

  it("rejects ids out of range before writing them", async () => {
    const w = await TraceWriter.create(path.join(dir, "bad.arrow"), meta());
    expect(() =>
      w.write({
        layer: 0,
        seq: Uint32Array.from([0]),
        pos: Uint32Array.from([0]),
        split: Uint8Array.from([0]),
        offsets: Int32Array.from([0, 1]),
        ids: Uint16Array.from([8]),
      }),
    ).toThrow(/out of range/);
    await w.abort();
  });

  it("names the file when it is not an Arrow trace", async () => {
    const file = path.join(dir, "not.arrow");
    writeFileSync(file, "hello, not arrow at all");
    await expect(TraceReader.open(file)).rejects.toThrow(ColinkError);
    await expect(TraceReader.open(file)).rejects.toThrow(/not\.arrow/);
  });

  it("rejects a truncated trace", async () => {
    const src = path.join(dir, "rt.arrow");
    const file = path.join(dir, "trunc.arrow");
    const bytes = readFileSync(src);
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(readAll(file)).rejects.toThrow(ColinkError);
    await expect(readAll(file)).rejects.toThrow(/trunc\.arrow: truncated or not an Arrow IPC file: it starts with "ARROW1" but does not end with it/);
  });

  it("names the token of a corrupt batch: ids out of order or range, a bad split, mixed layers", async () => {
    // rt.arrow's first batch is layer 0: tokens [1, 7], [], [0, 3, 4], [0]
    const cases: [string, (cols: ReturnType<RecordBatch["getChildAt"]>[]) => void, RegExp][] = [
      ["order", (c) => ((c[4]?.data[0].children[0].values as Uint16Array)[1] = 1), /layer 0, token \(seq 0, pos 0\): active ids not strictly ascending \(1 after 1\)/],
      ["range", (c) => ((c[4]?.data[0].children[0].values as Uint16Array)[4] = 8), /layer 0, token \(seq 1, pos 0\): neuron id 8 out of range \[0, 8\)/],
      ["split", (c) => ((c[3]?.data[0].values as Uint8Array)[2] = 2), /token \(seq 1, pos 0\): split 2; expected 0 \(fit\) or 1 \(held-out\)/],
      ["layers", (c) => ((c[2]?.data[0].values as Uint16Array)[3] = 1), /token \(seq 1, pos 1\): batch mixes layers 0 and 1/],
    ];
    for (const [name, corrupt, message] of cases) {
      const table = tableFromIPC(new Uint8Array(readFileSync(path.join(dir, "rt.arrow"))));
      corrupt([0, 1, 2, 3, 4].map((i) => table.batches[0].getChildAt(i)));
      const file = path.join(dir, `corrupt-${name}.arrow`);
      writeFileSync(file, tableToIPC(table, "file"));
      await expect(readAll(file)).rejects.toThrow(message);
    }
  });

  it("rejects an unsupported schema version", async () => {
    // a file like ours but written by a future colink: same columns, schema_version 9
    const table = tableFromIPC(readFileSync(path.join(dir, "rt.arrow")));
    const md = new Map(table.schema.metadata);
    md.set("colink.schema_version", "9");
    const schema = new Schema(table.schema.fields, md);
    const forged = new Table(table.batches.map((b) => new RecordBatch(schema, b.data)));
    const file = path.join(dir, "v9.arrow");
    writeFileSync(file, tableToIPC(forged, "file"));
    await expect(TraceReader.open(file)).rejects.toThrow(/schema version 9 is not supported/);
  });
});

describe("tokenColumns", () => {
  it("cuts a token range into sequence, position and split columns", () => {
    const split = Uint8Array.from([0, 1, 0]);
    const c = tokenColumns(2, 7, 3, split); // tokens 2..6 of sequences of 3
    expect(Array.from(c.seq)).toEqual([0, 1, 1, 1, 2]);
    expect(Array.from(c.pos)).toEqual([2, 0, 1, 2, 0]);
    expect(Array.from(c.split)).toEqual([0, 1, 1, 1, 0]);
  });
});

describe("holdoutSplit", () => {
  it("is deterministic, holds out round(h x n) sequences, and depends on the seed", () => {
    const a = holdoutSplit(100, 0.2, 1);
    expect(Array.from(a)).toEqual(Array.from(holdoutSplit(100, 0.2, 1)));
    expect(a.reduce((s, v) => s + v, 0)).toBe(20);
    expect(Array.from(holdoutSplit(100, 0.2, 2))).not.toEqual(Array.from(a));
  });
  it("keeps at least one fit sequence and rejects nonsense fractions", () => {
    expect(holdoutSplit(1, 0.5, 1)[0]).toBe(0);
    expect(() => holdoutSplit(10, 1, 1)).toThrow(/--holdout/);
    expect(() => holdoutSplit(10, -0.1, 1)).toThrow(/--holdout/);
  });
});

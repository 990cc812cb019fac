/**
 * Activation traces: Apache Arrow IPC *file* format (Feather v2), readable by
 * pyarrow, polars and DuckDB without colink. Spec: docs/traces.md.
 *
 * One row per (token, layer):
 *   seq    uint32           sequence index in the corpus token stream
 *   pos    uint32           position in the sequence (0-based)
 *   layer  uint16           FFN layer
 *   split  uint8            0 = fit, 1 = held-out (whole sequences, see holdoutSplit)
 *   active list<uint16>     active neuron ids, ascending (list<uint32> when a layer
 *                           has more than 65536 neurons)
 *
 * Rows come in record batches that each hold *one layer* for a chunk of tokens (the
 * profiler's natural order: a batch of sequences, layer by layer). Within a chunk
 * tokens are in (seq, pos) order, and every layer of a chunk has the same tokens.
 * Schema metadata (all strings) is listed in TraceMeta.
 */
import type * as fs from "node:fs/promises";
import {
  Field,
  List,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchReader,
  Schema,
  Struct,
  Uint8,
  Uint16,
  Uint32,
} from "apache-arrow";
import { ColinkError, fail, fromSystemError } from "./errors.js";
import { AtomicFile, openForRead, readFully } from "./fsutil.js";
import { xorshift32 } from "./rng.js";

export const TRACE_SCHEMA_VERSION = 1;

export interface ActivationRule {
  /** nonzero | threshold | target-sparsity | imported | synthetic */
  rule: string;
  /** Rule parameters, e.g. {"tau": [..per layer..]} or {"target": 0.1, "tau": [...]}. */
  params?: Record<string, unknown>;
}

export interface TraceMeta {
  schemaVersion: number;
  /** Model identity (e.g. "tiny-relu-llama"), or "" for traces imported from .npy. */
  modelId: string;
  /** SHA-256 of the model's config.json bytes, or "". */
  configDigest: string;
  layers: number;
  neurons: number;
  activation: ActivationRule;
  /** SHA-256 over the corpus token stream, or of the imported file. */
  corpusDigest: string;
  /** Tokens per sequence. */
  seqLen: number;
  /** Number of sequences and tokens in the file (known up front). */
  sequences: number;
  tokens: number;
  /** Held-out fraction and seed of the split. */
  holdout: number;
  seed: number;
  /** profile | import | synth */
  source: string;
  /** Anything else the writer wants to record (JSON-serialisable). */
  extra?: Record<string, unknown>;
}

const KEY = "colink.";

function metaToMap(m: TraceMeta): Map<string, string> {
  return new Map<string, string>([
    [`${KEY}schema_version`, String(m.schemaVersion)],
    [`${KEY}model_id`, m.modelId],
    [`${KEY}config_digest`, m.configDigest],
    [`${KEY}layers`, String(m.layers)],
    [`${KEY}neurons`, String(m.neurons)],
    [`${KEY}activation`, JSON.stringify(m.activation)],
    [`${KEY}corpus_digest`, m.corpusDigest],
    [`${KEY}seq_len`, String(m.seqLen)],
    [`${KEY}sequences`, String(m.sequences)],
    [`${KEY}tokens`, String(m.tokens)],
    [`${KEY}holdout`, String(m.holdout)],
    [`${KEY}seed`, String(m.seed)],
    [`${KEY}source`, m.source],
    [`${KEY}extra`, JSON.stringify(m.extra ?? {})],
  ]);
}

function metaFromMap(map: Map<string, string>, file: string): TraceMeta {
  const get = (k: string): string => {
    const v = map.get(KEY + k);
    if (v === undefined) fail("BAD_FORMAT", `${file}: not a colink trace: schema metadata "${KEY}${k}" is missing`, file);
    return v;
  };
  const int = (k: string): number => {
    const v = Number(get(k));
    if (!Number.isInteger(v) || v < 0) fail("BAD_FORMAT", `${file}: metadata "${KEY}${k}" must be an integer >= 0`, file);
    return v;
  };
  const version = int("schema_version");
  if (version !== TRACE_SCHEMA_VERSION)
    fail("BAD_VERSION", `${file}: trace schema version ${version} is not supported (expected ${TRACE_SCHEMA_VERSION})`, file);
  let activation: ActivationRule;
  let extra: Record<string, unknown>;
  try {
    activation = JSON.parse(get("activation"));
    extra = JSON.parse(map.get(`${KEY}extra`) ?? "{}");
  } catch {
    fail("BAD_FORMAT", `${file}: metadata "${KEY}activation" is not valid JSON`, file);
  }
  return {
    schemaVersion: version,
    modelId: get("model_id"),
    configDigest: get("config_digest"),
    layers: int("layers"),
    neurons: int("neurons"),
    activation,
    corpusDigest: get("corpus_digest"),
    seqLen: int("seq_len"),
    sequences: int("sequences"),
    tokens: int("tokens"),
    holdout: Number(get("holdout")),
    seed: int("seed"),
    source: get("source"),
    extra,
  };
}

function idType(neurons: number): Uint16 | Uint32 {
  return neurons <= 65536 ? new Uint16() : new Uint32();
}

function traceSchema(meta: TraceMeta): Schema {
  return new Schema(
    [
      new Field("seq", new Uint32(), false),
      new Field("pos", new Uint32(), false),
      new Field("layer", new Uint16(), false),
      new Field("split", new Uint8(), false),
      new Field("active", new List(new Field("item", idType(meta.neurons), false)), false),
    ],
    metaToMap(meta),
  );
}

/** One record batch: one layer, a chunk of tokens, active ids in CSR form. */
export interface TraceChunk {
  layer: number;
  seq: Uint32Array;
  pos: Uint32Array;
  split: Uint8Array;
  /** offsets.length = rows + 1; token t's ids are ids[offsets[t] .. offsets[t+1]). */
  offsets: Int32Array;
  ids: Uint16Array | Uint32Array;
}

/**
 * Deterministic split by sequence: a seeded shuffle of the sequence indices; the
 * first round(holdout x sequences) of it are held out. Returns 1 for held-out.
 */
export function holdoutSplit(sequences: number, holdout: number, seed: number): Uint8Array {
  if (!(holdout >= 0 && holdout < 1)) fail("BAD_ARGUMENT", `--holdout must be in [0, 1), got ${holdout}`);
  const idx = Uint32Array.from({ length: sequences }, (_, i) => i);
  const rnd = xorshift32((seed ^ 0x9e3779b9) >>> 0);
  for (let i = sequences - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  const out = new Uint8Array(sequences);
  const held = sequences > 1 ? Math.min(sequences - 1, Math.round(holdout * sequences)) : 0;
  for (let i = 0; i < held; i++) out[idx[i]] = 1;
  return out;
}

/**
 * The seq, pos and split columns of tokens [t0, t1) of a token stream cut into
 * sequences of `seqLen` (token t is position t % seqLen of sequence t / seqLen);
 * `split` is holdoutSplit's per-sequence flags. Every trace writer uses it.
 */
export function tokenColumns(
  t0: number,
  t1: number,
  seqLen: number,
  split: Uint8Array,
): Pick<TraceChunk, "seq" | "pos" | "split"> {
  const n = t1 - t0;
  const seq = new Uint32Array(n);
  const pos = new Uint32Array(n);
  const sp = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const t = t0 + i;
    const s = Math.floor(t / seqLen);
    seq[i] = s;
    pos[i] = t - s * seqLen;
    sp[i] = split[s];
  }
  return { seq, pos, split: sp };
}

/** Streams chunks into a trace file (temporary name until `close`). */
export class TraceWriter {
  readonly meta: TraceMeta;
  private readonly schema: Schema;
  private readonly writer: RecordBatchFileWriter;
  private readonly file: AtomicFile;
  private readonly pump: Promise<void>;
  private pumpError: unknown = null;
  rows = 0;
  private batches = 0;

  private constructor(file: AtomicFile, meta: TraceMeta) {
    this.meta = meta;
    this.file = file;
    this.schema = traceSchema(meta);
    const writer = new RecordBatchFileWriter();
    this.writer = writer;
    this.pump = (async () => {
      try {
        for await (const chunk of writer) await file.handle.write(chunk);
      } catch (e) {
        this.pumpError = e;
      }
    })();
  }

  static async create(target: string, meta: TraceMeta): Promise<TraceWriter> {
    return new TraceWriter(await AtomicFile.create(target), { ...meta, schemaVersion: TRACE_SCHEMA_VERSION });
  }

  write(chunk: TraceChunk): void {
    const n = chunk.seq.length;
    const { neurons, layers } = this.meta;
    if (chunk.layer < 0 || chunk.layer >= layers) fail("BAD_ARGUMENT", `trace chunk layer ${chunk.layer} out of range`);
    if (chunk.pos.length !== n || chunk.split.length !== n || chunk.offsets.length !== n + 1)
      fail("BAD_ARGUMENT", "trace chunk columns differ in length");
    const total = chunk.offsets[n];
    const Ids = neurons <= 65536 ? Uint16Array : Uint32Array;
    const ids = chunk.ids instanceof Ids ? chunk.ids.subarray(0, total) : Ids.from(chunk.ids.subarray(0, total));
    // the reader's contract (checkChunk): each token's ids strictly ascending, below neurons
    for (let t = 0; t < n; t++) {
      const bad = badTokenIds(ids, chunk.offsets[t], chunk.offsets[t + 1], neurons);
      if (bad) fail("BAD_ARGUMENT", bad);
    }
    const fields = this.schema.fields;
    const listType = fields[4].type as List;
    const child = makeData({ type: listType.children[0].type, length: total, nullCount: 0, data: ids });
    const layerCol = new Uint16Array(n).fill(chunk.layer);
    const cols = [
      makeData({ type: new Uint32(), length: n, nullCount: 0, data: chunk.seq }),
      makeData({ type: new Uint32(), length: n, nullCount: 0, data: chunk.pos }),
      makeData({ type: new Uint16(), length: n, nullCount: 0, data: layerCol }),
      makeData({ type: new Uint8(), length: n, nullCount: 0, data: chunk.split }),
      makeData({ type: listType, length: n, nullCount: 0, valueOffsets: chunk.offsets, child }),
    ];
    const data = makeData({ type: new Struct(fields), length: n, nullCount: 0, children: cols });
    this.writer.write(new RecordBatch(this.schema, data));
    this.rows += n;
    this.batches++;
  }

  /** Finishes the file and renames it into place. */
  async close(): Promise<void> {
    // Arrow JS writes the schema with the first batch; a trace with no tokens still
    // needs it (and its metadata), so it gets one empty batch.
    if (this.batches === 0)
      this.write({ layer: 0, seq: new Uint32Array(0), pos: new Uint32Array(0), split: new Uint8Array(0), offsets: new Int32Array(1), ids: new Uint16Array(0) });
    this.writer.finish();
    await this.pump;
    if (this.pumpError) {
      await this.file.abort();
      throw fromSystemError(this.pumpError, this.file.target, "write");
    }
    await this.file.commit();
  }

  /** Drops the partial file. */
  async abort(): Promise<void> {
    try {
      this.writer.abort();
    } catch {
      /* already closed */
    }
    await this.pump;
    await this.file.abort();
  }
}

const ARROW_MAGIC = "ARROW1";

/**
 * An Arrow IPC file starts with "ARROW1" + 2 bytes of padding and ends with its
 * footer, a 4-byte footer length and "ARROW1" again. A file cut short loses the
 * second magic; saying so here beats the reader's own failure deep in the footer.
 */
async function checkArrowMagic(handle: fs.FileHandle, file: string): Promise<void> {
  const size = (await handle.stat()).size;
  const head = new Uint8Array(6);
  const tail = new Uint8Array(6);
  if (size >= 12) {
    await readFully(handle, file, head, 0);
    await readFully(handle, file, tail, size - 6);
  }
  const text = (b: Uint8Array) => String.fromCharCode(...b);
  if (text(head) !== ARROW_MAGIC)
    fail("BAD_FORMAT", `${file}: expected an Arrow IPC file (magic "ARROW1" at both ends); this one does not start with it (${size} bytes)`, file);
  if (text(tail) !== ARROW_MAGIC)
    fail("BAD_FORMAT", `${file}: truncated or not an Arrow IPC file: it starts with "ARROW1" but does not end with it (${size} bytes)`, file);
}

/**
 * What a reader may rely on in a batch (docs/traces.md), checked because Arrow
 * carries no checksum: one layer, split 0 or 1, offsets that only grow and stay
 * inside the ids, and each token's ids strictly ascending below `neurons`. One pass
 * over the ids; a corrupt batch is named here instead of failing as nonsense later.
 */
function checkChunk(file: string, neurons: number, c: TraceChunk, layerCol: Uint16Array, idsLength: number): void {
  const n = c.seq.length;
  const { offsets, ids } = c;
  const where = (t: number) => `${file}: layer ${c.layer}, token (seq ${c.seq[t]}, pos ${c.pos[t]})`;
  if (!(offsets[0] >= 0 && offsets[n] <= idsLength)) fail("BAD_FORMAT", `${file}: layer ${c.layer}: corrupt record batch (active-id offsets outside the ids)`, file);
  for (let t = 0; t < n; t++) {
    if (layerCol[t] !== c.layer) fail("BAD_FORMAT", `${where(t)}: batch mixes layers ${c.layer} and ${layerCol[t]}; expected one layer per record batch`, file);
    if (c.split[t] > 1) fail("BAD_FORMAT", `${where(t)}: split ${c.split[t]}; expected 0 (fit) or 1 (held-out)`, file);
    const a = offsets[t];
    const b = offsets[t + 1];
    if (b < a) fail("BAD_FORMAT", `${where(t)}: corrupt record batch (active-id offsets decrease)`, file);
    const bad = badTokenIds(ids, a, b, neurons);
    if (bad) fail("BAD_FORMAT", `${where(t)}: ${bad}`, file);
  }
}

/** What is wrong with one token's ids `ids[a..b)` (strictly ascending, below `neurons`), or undefined. */
function badTokenIds(ids: ArrayLike<number>, a: number, b: number, neurons: number): string | undefined {
  for (let i = a + 1; i < b; i++) if (ids[i] <= ids[i - 1]) return `active ids not strictly ascending (${ids[i]} after ${ids[i - 1]})`;
  if (b > a && ids[b - 1] >= neurons) return `neuron id ${ids[b - 1]} out of range [0, ${neurons})`;
  return undefined;
}

/** An open trace: its metadata, and its chunks streamed one record batch at a time. */
export class TraceReader {
  readonly file: string;
  readonly meta: TraceMeta;
  private readonly handle: fs.FileHandle;
  private readonly reader: RecordBatchReader;

  private constructor(file: string, handle: fs.FileHandle, reader: RecordBatchReader, meta: TraceMeta) {
    this.file = file;
    this.handle = handle;
    this.reader = reader;
    this.meta = meta;
  }

  static async open(file: string): Promise<TraceReader> {
    const handle = await openForRead(file);
    try {
      await checkArrowMagic(handle, file);
      const reader = await RecordBatchReader.from(handle);
      await reader.open();
      if (!reader.isFile())
        fail("BAD_FORMAT", `${file}: expected an Arrow IPC file (magic "ARROW1" at both ends)`, file);
      const meta = metaFromMap(reader.schema.metadata, file);
      const names = reader.schema.fields.map((f) => f.name).join(",");
      if (names !== "seq,pos,layer,split,active")
        fail("BAD_FORMAT", `${file}: expected columns seq,pos,layer,split,active, found ${names}`, file);
      return new TraceReader(file, handle, reader, meta);
    } catch (e) {
      await handle.close();
      if (e instanceof ColinkError) throw e;
      throw new ColinkError("BAD_FORMAT", `${file}: not a readable Arrow IPC trace (${(e as Error).message})`, file);
    }
  }

  /** Chunks in file order. Views share memory with the decoded batch. */
  async *chunks(): AsyncGenerator<TraceChunk> {
    const { layers } = this.meta;
    try {
      for await (const batch of this.reader) {
        const n = batch.numRows;
        if (n === 0) continue;
        const col = (i: number) => batch.getChildAt(i)!.data[0];
        const layerCol = col(2).values as Uint16Array;
        const layer = layerCol[0];
        if (layer >= layers) fail("BAD_FORMAT", `${this.file}: row layer ${layer} >= layer count ${layers}`, this.file);
        const act = col(4);
        const offsets = (act.valueOffsets as Int32Array).subarray(act.offset, act.offset + n + 1);
        const ids = act.children[0].values as Uint16Array | Uint32Array;
        const chunk: TraceChunk = {
          layer,
          seq: (col(0).values as Uint32Array).subarray(0, n),
          pos: (col(1).values as Uint32Array).subarray(0, n),
          split: (col(3).values as Uint8Array).subarray(0, n),
          offsets,
          ids: ids.subarray(0, offsets[n]) as Uint16Array | Uint32Array,
        };
        checkChunk(this.file, this.meta.neurons, chunk, layerCol, ids.length);
        yield chunk;
      }
    } catch (e) {
      if (e instanceof ColinkError) throw e;
      throw new ColinkError("BAD_FORMAT", `${this.file}: corrupt Arrow record batch (${(e as Error).message})`, this.file);
    }
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}

/** Opens a trace, reads its metadata, closes it. */
export async function readTraceMeta(file: string): Promise<TraceMeta> {
  const r = await TraceReader.open(file);
  await r.close();
  return r.meta;
}

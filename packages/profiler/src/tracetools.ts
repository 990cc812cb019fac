/**
 * Trace tools: NumPy mask import/export and summary statistics. All of them stream
 * the trace one record batch at a time, so memory does not grow with its length.
 *
 * Masks are uint8 (or bool) arrays of shape [tokens, layers, neurons], tokens in the
 * trace's order (sequence by sequence, position by position); nonzero = active.
 */
import { fail, holdoutSplit, openNpy, sha256File, type TraceChunk, TraceReader, TraceWriter, tokenColumns, writeNpy } from "@colink/core";

/** Groups a trace's record batches into chunks that hold every layer for the same tokens. */
async function* layerGroups(reader: TraceReader): AsyncGenerator<TraceChunk[]> {
  const { layers } = reader.meta;
  let group: TraceChunk[] = [];
  for await (const c of reader.chunks()) {
    if (group.length > 0 && c.seq.length !== group[0].seq.length)
      fail("BAD_FORMAT", `${reader.file}: layer ${c.layer} batch has ${c.seq.length} rows, expected ${group[0].seq.length} like layer ${group[0].layer}`, reader.file);
    if (group[c.layer]) fail("BAD_FORMAT", `${reader.file}: layer ${c.layer} appears twice in one chunk of tokens`, reader.file);
    // Views into a decoded batch may be reused; keep copies until the group is complete.
    group[c.layer] = {
      layer: c.layer,
      seq: c.seq.slice(),
      pos: c.pos.slice(),
      split: c.split.slice(),
      offsets: c.offsets.map((v) => v - c.offsets[0]),
      ids: c.ids.slice(c.offsets[0], c.offsets[c.seq.length]),
    };
    if (Object.keys(group).length === layers) {
      yield group;
      group = [];
    }
  }
  if (Object.keys(group).length > 0)
    fail("BAD_FORMAT", `${reader.file}: the last chunk of tokens lacks some of the ${layers} layers`, reader.file);
}

export interface ExportResult {
  out: string;
  shape: [number, number, number];
}

/** Writes a trace's masks as .npy uint8 [tokens, layers, neurons]. */
export async function exportMasks(trace: string, out: string): Promise<ExportResult> {
  const reader = await TraceReader.open(trace);
  try {
    const { layers, neurons, tokens } = reader.meta;
    let written = 0;
    await writeNpy(out, "|u1", [tokens, layers, neurons], async (append) => {
      const BLOCK = 64; // rows per write: bounded buffer even at 7B shapes (64 x 32 x 11008 B = 22 MB)
      const buf = new Uint8Array(BLOCK * layers * neurons);
      for await (const g of layerGroups(reader)) {
        const rows = g[0].seq.length;
        for (let r0 = 0; r0 < rows; r0 += BLOCK) {
          const r1 = Math.min(rows, r0 + BLOCK);
          const view = buf.subarray(0, (r1 - r0) * layers * neurons);
          view.fill(0);
          for (let l = 0; l < layers; l++) {
            const { offsets, ids } = g[l];
            for (let r = r0; r < r1; r++) {
              const base = ((r - r0) * layers + l) * neurons;
              for (let j = offsets[r]; j < offsets[r + 1]; j++) view[base + ids[j]] = 1;
            }
          }
          written += r1 - r0;
          if (written > tokens) fail("BAD_FORMAT", `${trace}: holds more tokens than its metadata's ${tokens}`, trace);
          await append(view);
        }
      }
      if (written !== tokens) fail("BAD_FORMAT", `${trace}: holds ${written} tokens, its metadata says ${tokens}`, trace);
    });
    return { out, shape: [tokens, layers, neurons] };
  } finally {
    await reader.close();
  }
}

export interface ImportOptions {
  masks: string;
  out: string;
  /** Tokens per sequence (default 128); the last sequence may be shorter. */
  seqLen?: number;
  holdout?: number;
  seed?: number;
}

export interface ImportResult {
  out: string;
  tokens: number;
  layers: number;
  neurons: number;
  sequences: number;
}

/** Turns .npy masks [tokens, layers, neurons] (uint8 or bool) into a trace. */
export async function importMasks(o: ImportOptions): Promise<ImportResult> {
  const seqLen = o.seqLen ?? 128;
  if (!(Number.isInteger(seqLen) && seqLen >= 1)) fail("BAD_ARGUMENT", `--seq-len must be an integer >= 1, got ${seqLen}`);
  const holdout = o.holdout ?? 0.2;
  const seed = o.seed ?? 0;
  const { header, handle } = await openNpy(o.masks);
  let writer: TraceWriter | null = null;
  try {
    if (header.dtype !== "u1" && header.dtype !== "b1")
      fail("BAD_FORMAT", `${o.masks}: masks must be uint8 or bool, got dtype ${header.dtype}`, o.masks);
    if (header.shape.length !== 3)
      fail("BAD_FORMAT", `${o.masks}: masks must have shape (tokens, layers, neurons), got (${header.shape.join(", ")})`, o.masks);
    const [tokens, layers, neurons] = header.shape;
    if (tokens === 0 || layers === 0 || neurons === 0)
      fail("BAD_FORMAT", `${o.masks}: masks shape (${header.shape.join(", ")}) is empty`, o.masks);
    const sequences = Math.ceil(tokens / seqLen);
    const split = holdoutSplit(sequences, holdout, seed);
    writer = await TraceWriter.create(o.out, {
      schemaVersion: 1,
      modelId: "",
      configDigest: "",
      layers,
      neurons,
      activation: { rule: "imported", params: { file: o.masks } },
      corpusDigest: await sha256File(o.masks),
      seqLen,
      sequences,
      tokens,
      holdout,
      seed,
      source: "import",
    });
    // Whole sequences per chunk, about 64 MiB of mask bytes at most.
    const perSeq = seqLen * layers * neurons;
    const seqsPerChunk = Math.max(1, Math.floor((64 << 20) / perSeq));
    for (let s0 = 0; s0 < sequences; s0 += seqsPerChunk) {
      const t0 = s0 * seqLen;
      const t1 = Math.min(tokens, (s0 + seqsPerChunk) * seqLen);
      const rows = t1 - t0;
      const buf = new Uint8Array(rows * layers * neurons);
      await handle.read(buf, 0, buf.length, header.dataOffset + t0 * layers * neurons);
      const { seq, pos, split: sp } = tokenColumns(t0, t1, seqLen, split);
      for (let l = 0; l < layers; l++) {
        const offsets = new Int32Array(rows + 1);
        let total = 0;
        for (let r = 0; r < rows; r++) {
          const base = (r * layers + l) * neurons;
          for (let i = 0; i < neurons; i++) if (buf[base + i] !== 0) total++;
          offsets[r + 1] = total;
        }
        const ids = neurons <= 65536 ? new Uint16Array(total) : new Uint32Array(total);
        let w = 0;
        for (let r = 0; r < rows; r++) {
          const base = (r * layers + l) * neurons;
          for (let i = 0; i < neurons; i++) if (buf[base + i] !== 0) ids[w++] = i;
        }
        writer.write({ layer: l, seq, pos, split: sp, offsets, ids });
      }
    }
    await writer.close();
    writer = null;
    return { out: o.out, tokens, layers, neurons, sequences };
  } finally {
    if (writer) await writer.abort();
    await handle.close();
  }
}

export interface LayerStats {
  layer: number;
  /** Mean fraction of the layer's neurons active per token. */
  activeFraction: number;
  /** Share of all activations taken by the 10% most often active neurons. */
  hot10Share: number;
  /** Mean Jaccard similarity |A∩B| / |A∪B| of consecutive tokens' active sets within a sequence. */
  reuseJaccard: number;
}

export interface TraceStats {
  file: string;
  modelId: string;
  source: string;
  activation: unknown;
  tokens: number;
  sequences: number;
  seqLen: number;
  heldOutTokens: number;
  layers: number;
  neurons: number;
  perLayer: LayerStats[];
}

/** Per-layer statistics of a trace, in one streaming pass. */
export async function traceStats(file: string): Promise<TraceStats> {
  const reader = await TraceReader.open(file);
  try {
    const { layers, neurons } = reader.meta;
    const counts = new Float64Array(layers * neurons);
    const rowsPerLayer = new Float64Array(layers);
    const jaccSum = new Float64Array(layers);
    const jaccPairs = new Float64Array(layers);
    const mark = new Int32Array(neurons).fill(-1);
    let stamp = 0;
    let heldOut = 0;
    for await (const c of reader.chunks()) {
      const { layer, seq, pos, offsets, ids } = c;
      const rows = seq.length;
      rowsPerLayer[layer] += rows;
      if (layer === 0) for (let r = 0; r < rows; r++) heldOut += c.split[r];
      const base = layer * neurons;
      for (let j = offsets[0]; j < offsets[rows]; j++) counts[base + ids[j]]++;
      for (let r = 1; r < rows; r++) {
        if (seq[r] !== seq[r - 1] || pos[r] !== pos[r - 1] + 1) continue;
        const a0 = offsets[r - 1];
        const a1 = offsets[r];
        const b1 = offsets[r + 1];
        const na = a1 - a0;
        const nb = b1 - a1;
        if (na + nb === 0) continue; // two empty sets: no information about reuse
        stamp++;
        for (let j = a0; j < a1; j++) mark[ids[j]] = stamp;
        let inter = 0;
        for (let j = a1; j < b1; j++) if (mark[ids[j]] === stamp) inter++;
        jaccSum[layer] += inter / (na + nb - inter);
        jaccPairs[layer]++;
      }
    }
    const perLayer: LayerStats[] = [];
    const hot = Math.max(1, Math.ceil(0.1 * neurons));
    for (let l = 0; l < layers; l++) {
      const c = counts.slice(l * neurons, (l + 1) * neurons).sort().reverse();
      let total = 0;
      let top = 0;
      for (let i = 0; i < neurons; i++) {
        total += c[i];
        if (i < hot) top += c[i];
      }
      perLayer.push({
        layer: l,
        activeFraction: rowsPerLayer[l] > 0 ? total / (rowsPerLayer[l] * neurons) : 0,
        hot10Share: total > 0 ? top / total : 0,
        reuseJaccard: jaccPairs[l] > 0 ? jaccSum[l] / jaccPairs[l] : 0,
      });
    }
    const m = reader.meta;
    return {
      file,
      modelId: m.modelId,
      source: m.source,
      activation: m.activation,
      tokens: m.tokens,
      sequences: m.sequences,
      seqLen: m.seqLen,
      heldOutTokens: heldOut,
      layers,
      neurons,
      perLayer,
    };
  } finally {
    await reader.close();
  }
}

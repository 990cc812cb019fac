/**
 * Tiny ONNX graphs built in memory, run by onnxruntime-node's CPU provider (MLAS
 * sgemm, both cores). The forward pass hands every matrix multiply to ORT; the
 * cheap elementwise work (norms, rotary, activations) stays in TypeScript.
 *
 * The graphs are encoded by hand with protobuf wire format, field numbers from the
 * public onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
 * ValueInfoProto, TypeProto): a few dozen bytes, no generated code.
 */
import * as ort from "onnxruntime-node";

// ---- protobuf wire format: varint (0) and length-delimited (2) fields only ----

class Pb {
  private bytes: number[] = [];
  varint(field: number, v: number): this {
    this.tag(field, 0);
    this.raw(v);
    return this;
  }
  str(field: number, s: string): this {
    return this.msg(field, new TextEncoder().encode(s));
  }
  msg(field: number, body: Uint8Array | Pb): this {
    const b = body instanceof Pb ? body.finish() : body;
    this.tag(field, 2);
    this.raw(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  f32(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  private tag(field: number, wire: number): void {
    this.raw(field * 8 + wire);
  }
  private raw(v: number): void {
    if (!(Number.isSafeInteger(v) && v >= 0)) throw new RangeError(`protobuf varint ${v}: only non-negative integers are encoded here`);
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const FLOAT = 1; // TensorProto.DataType.FLOAT

/** A float tensor input/output with symbolic dims (strings) or fixed dims (numbers). */
function valueInfo(name: string, dims: (string | number)[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, typeof d === "number" ? new Pb().varint(1, d) : new Pb().str(2, d));
  const tensorType = new Pb().varint(1, FLOAT).msg(2, shape);
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensorType));
}

type Attr = { name: string; i?: number; ints?: number[]; f?: number };

function node(op: string, inputs: string[], outputs: string[], attrs: Attr[] = []): Pb {
  const n = new Pb();
  for (const i of inputs) n.str(1, i);
  for (const o of outputs) n.str(2, o);
  n.str(4, op);
  for (const a of attrs) {
    const p = new Pb().str(1, a.name);
    if (a.f !== undefined) p.f32(2, a.f).varint(20, 1); // FLOAT
    else if (a.ints) {
      for (const v of a.ints) p.varint(8, v);
      p.varint(20, 7); // INTS
    } else p.varint(3, a.i ?? 0).varint(20, 2); // INT
    n.msg(5, p);
  }
  return n;
}

function model(nodes: Pb[], inputs: Pb[], outputs: Pb[]): Uint8Array {
  const g = new Pb();
  for (const n of nodes) g.msg(1, n);
  g.str(2, "colink");
  for (const i of inputs) g.msg(11, i);
  for (const o of outputs) g.msg(12, o);
  return new Pb()
    .varint(1, 8) // ir_version 8
    .str(2, "colink")
    .msg(7, g)
    .msg(8, new Pb().str(1, "").varint(2, 17)) // opset 17, default domain
    .finish();
}

/** Y[M,N] = X[M,K] · W[N,K]ᵀ (+ B[N]): a PyTorch Linear with its weight as stored. */
function linearModel(bias: boolean): Uint8Array {
  const inputs = [valueInfo("X", ["M", "K"]), valueInfo("W", ["N", "K"])];
  if (bias) inputs.push(valueInfo("B", ["N"]));
  return model(
    [node("Gemm", bias ? ["X", "W", "B"] : ["X", "W"], ["Y"], [{ name: "transB", i: 1 }])],
    inputs,
    [valueInfo("Y", ["M", "N"])],
  );
}

/**
 * The gated FFN of a Llama layer in one call: GU = X·WGUᵀ (gate and up fused),
 * H = act(G)·U, Y = H·WDᵀ. Returns H (the activation values the profiler records)
 * and Y. act is relu or silu (x·sigmoid(x)); GELU variants go through TypeScript.
 */
function ffnModel(act: "relu" | "silu"): Uint8Array {
  const actNodes =
    act === "relu" ? [node("Relu", ["G"], ["A"])] : [node("Sigmoid", ["G"], ["S"]), node("Mul", ["G", "S"], ["A"])];
  return model(
    [
      node("Gemm", ["X", "WGU"], ["GU"], [{ name: "transB", i: 1 }]),
      node("Split", ["GU"], ["G", "U"], [{ name: "axis", i: 1 }]), // equal halves: gate | up
      ...actNodes,
      node("Mul", ["A", "U"], ["H"]),
      node("Gemm", ["H", "WD"], ["Y"], [{ name: "transB", i: 1 }]),
    ],
    [valueInfo("X", ["M", "K"]), valueInfo("WGU", ["F2", "K"]), valueInfo("WD", ["N", "F"])],
    [valueInfo("H", ["M", "F"]), valueInfo("Y", ["M", "N"])],
  );
}

/**
 * Causal attention for a batch: Q [B,T,H,D], K and V [B,T,H,D] (heads already
 * repeated for grouped-query attention), MASK [T,T] additive, SCALE [1].
 * Output O [B,T,H,D], i.e. [B·T, H·D] rows ready for o_proj.
 */
function attentionModel(): Uint8Array {
  return model(
    [
      node("Transpose", ["Q"], ["q"], [{ name: "perm", ints: [0, 2, 1, 3] }]),
      node("Transpose", ["K"], ["kt"], [{ name: "perm", ints: [0, 2, 3, 1] }]),
      node("Transpose", ["V"], ["v"], [{ name: "perm", ints: [0, 2, 1, 3] }]),
      node("MatMul", ["q", "kt"], ["s0"]),
      node("Mul", ["s0", "SCALE"], ["s1"]),
      node("Add", ["s1", "MASK"], ["s2"]),
      node("Softmax", ["s2"], ["p"], [{ name: "axis", i: 3 }]), // scores are [B, H, T, T]
      node("MatMul", ["p", "v"], ["o"]),
      node("Transpose", ["o"], ["O"], [{ name: "perm", ints: [0, 2, 1, 3] }]),
    ],
    [
      valueInfo("Q", ["B", "T", "H", "D"]),
      valueInfo("K", ["B", "T", "H", "D"]),
      valueInfo("V", ["B", "T", "H", "D"]),
      valueInfo("MASK", ["T", "T2"]),
      valueInfo("SCALE", [1]),
    ],
    [valueInfo("O", ["B", "T", "H", "D"])],
  );
}

/** Matrix kernels backed by onnxruntime sessions, created once and reused. */
export class Kernels {
  private constructor(
    private readonly lin: ort.InferenceSession,
    private readonly linBias: ort.InferenceSession,
    private readonly attn: ort.InferenceSession,
    private readonly ffnRelu: ort.InferenceSession,
    private readonly ffnSilu: ort.InferenceSession,
    readonly threads: number,
  ) {}

  /**
   * `spin` lets onnxruntime's worker threads busy-wait between calls. Off by default:
   * the forward pass does TypeScript work between matmuls, and on a shared 2-core
   * machine spinning workers took CPU from it (measured slower under load).
   */
  static async create(threads = 2, spin = false): Promise<Kernels> {
    const opts: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      enableCpuMemArena: false,
      executionMode: "sequential",
      extra: { session: { intra_op: { allow_spinning: spin ? "1" : "0" } } },
    };
    const [a, b, c, d, e] = await Promise.all([
      ort.InferenceSession.create(linearModel(false), opts),
      ort.InferenceSession.create(linearModel(true), opts),
      ort.InferenceSession.create(attentionModel(), opts),
      ort.InferenceSession.create(ffnModel("relu"), opts),
      ort.InferenceSession.create(ffnModel("silu"), opts),
    ]);
    return new Kernels(a, b, c, d, e, threads);
  }

  /** x [m, k] · wᵀ with w [n, k] (+ bias [n]) → [m, n]. */
  async linear(x: Float32Array, m: number, k: number, w: Float32Array, n: number, bias?: Float32Array): Promise<Float32Array> {
    const feeds: Record<string, ort.Tensor> = {
      X: new ort.Tensor("float32", x.subarray(0, m * k), [m, k]),
      W: new ort.Tensor("float32", w.subarray(0, n * k), [n, k]),
    };
    if (bias) feeds.B = new ort.Tensor("float32", bias, [n]);
    const out = await (bias ? this.linBias : this.lin).run(feeds);
    return out.Y.data as Float32Array;
  }

  /** Gated FFN: x [m, k], wgu [2f, k] (gate rows then up rows), wd [n, f] → h [m, f] and y [m, n]. */
  async ffn(
    x: Float32Array,
    m: number,
    k: number,
    wgu: Float32Array,
    f: number,
    wd: Float32Array,
    n: number,
    act: "relu" | "silu",
  ): Promise<{ h: Float32Array; y: Float32Array }> {
    const out = await (act === "relu" ? this.ffnRelu : this.ffnSilu).run({
      X: new ort.Tensor("float32", x.subarray(0, m * k), [m, k]),
      WGU: new ort.Tensor("float32", wgu.subarray(0, 2 * f * k), [2 * f, k]),
      WD: new ort.Tensor("float32", wd.subarray(0, n * f), [n, f]),
    });
    return { h: out.H.data as Float32Array, y: out.Y.data as Float32Array };
  }

  /** Causal softmax attention; q, k, v are [b, t, h, d] (k, v with h heads already). */
  async attention(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    b: number,
    t: number,
    h: number,
    d: number,
    scale: number,
    mask: Float32Array,
  ): Promise<Float32Array> {
    const dims = [b, t, h, d];
    const out = await this.attn.run({
      Q: new ort.Tensor("float32", q, dims),
      K: new ort.Tensor("float32", k, dims),
      V: new ort.Tensor("float32", v, dims),
      MASK: new ort.Tensor("float32", mask, [t, t]),
      SCALE: new ort.Tensor("float32", Float32Array.of(scale), [1]),
    });
    return out.O.data as Float32Array;
  }

  async release(): Promise<void> {
    await Promise.all([this.lin, this.linBias, this.attn, this.ffnRelu, this.ffnSilu].map((x) => x.release()));
  }
}

/** Additive causal mask [t, t]: 0 on and below the diagonal, -inf above. */
export function causalMask(t: number): Float32Array {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = Number.NEGATIVE_INFINITY;
  return m;
}

#!/usr/bin/env python3
"""Independent NumPy reference forward pass for colink's profiler (float32).

Reads a Hugging Face checkpoint directory (config.json + model.safetensors, parsed
here without the safetensors package) and runs LlamaForCausalLM /
MistralForCausalLM / OPTForCausalLM on one sequence, following the Hugging Face
modeling code. Prints JSON: logits of every position and the FFN activation values
(act(gate)*up for Llama, relu(fc1) for OPT) per layer.

  python3 scripts/numpy_forward.py MODEL_DIR --tokens 1,2,3 > ref.json
  python3 scripts/numpy_forward.py MODEL_DIR --bench 2048 --seq-len 128   # tokens/s
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np

DT = {"F32": np.float32, "F16": np.float16, "BF16": None}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        raw = data[b:e]
        if t["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, DT[t["dtype"]])
        out[name] = a.astype(np.float32).reshape(t["shape"])
    return out


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    return cfg, load_safetensors(os.path.join(model_dir, "model.safetensors"))


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def attention(q, k, v, heads, kv_heads, scale):
    # q [B, T, H, D], k/v [B, T, KV, D] -> [B, T, H*D]; batched BLAS matmuls per head
    rep = heads // kv_heads
    k = np.repeat(k, rep, axis=2)
    v = np.repeat(v, rep, axis=2)
    b, t = q.shape[:2]
    s = (q.transpose(0, 2, 1, 3) @ k.transpose(0, 2, 3, 1)) * np.float32(scale)
    s = s + np.triu(np.full((t, t), -np.inf, np.float32), 1)
    p = softmax(s).astype(np.float32)
    return (p @ v.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3).reshape(b, t, -1)


def act_fn(name, x):
    if name == "relu":
        return np.maximum(x, 0)
    if name == "silu":
        return x / (1 + np.exp(-x))
    if name == "gelu":
        from math import erf

        return (0.5 * x * (1 + np.vectorize(erf)(x / math.sqrt(2)))).astype(np.float32)
    c = math.sqrt(2 / math.pi)
    return 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x**3)))


def llama(cfg, w, tokens):
    d = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    D = cfg.get("head_dim") or d // H
    eps = np.float32(cfg.get("rms_norm_eps", 1e-6))
    theta = cfg.get("rope_theta", 10000.0)
    act = cfg.get("hidden_act", "silu")
    b, t = tokens.shape

    def rms(x, g):
        var = (x * x).mean(-1, keepdims=True)
        return g * (x / np.sqrt(var + eps))

    inv = (1.0 / (np.float32(theta) ** (np.arange(0, D, 2, dtype=np.float32) / np.float32(D)))).astype(np.float32)
    ang = np.arange(t, dtype=np.float32)[:, None] * inv[None, :]
    emb = np.concatenate([ang, ang], -1)
    cos, sin = np.cos(emb)[None, :, None, :], np.sin(emb)[None, :, None, :]

    def rope(x):
        half = D // 2
        rot = np.concatenate([-x[..., half:], x[..., :half]], -1)
        return x * cos + rot * sin

    x = w["model.embed_tokens.weight"][tokens]
    ffn = []
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = rope((h @ w[p + "self_attn.q_proj.weight"].T).reshape(b, t, H, D))
        k = rope((h @ w[p + "self_attn.k_proj.weight"].T).reshape(b, t, KV, D))
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(b, t, KV, D)
        x = x + attention(q, k, v, H, KV, 1 / math.sqrt(D)) @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        a = act_fn(act, h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)
        ffn.append(a)
        x = x + a @ w[p + "mlp.down_proj.weight"].T
    x = rms(x, w["model.norm.weight"])
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T, ffn


def opt(cfg, w, tokens):
    d = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    D = d // H
    pre = cfg.get("do_layer_norm_before", True)
    proj = cfg.get("word_embed_proj_dim", d)
    act = cfg.get("activation_function", "relu")
    b, t = tokens.shape
    P = "model.decoder."

    def ln(x, g, b):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + np.float32(1e-5)) * g + b

    x = w[P + "embed_tokens.weight"][tokens]
    if proj != d:
        x = x @ w[P + "project_in.weight"].T
    x = x + w[P + "embed_positions.weight"][np.arange(t) + 2]
    ffn = []
    for l in range(cfg["num_hidden_layers"]):
        p = f"{P}layers.{l}."
        a = p + "self_attn."
        res = x
        h = ln(x, w[p + "self_attn_layer_norm.weight"], w[p + "self_attn_layer_norm.bias"]) if pre else x
        q = (h @ w[a + "q_proj.weight"].T + w[a + "q_proj.bias"]) * np.float32(D**-0.5)
        k = h @ w[a + "k_proj.weight"].T + w[a + "k_proj.bias"]
        v = h @ w[a + "v_proj.weight"].T + w[a + "v_proj.bias"]
        o = attention(q.reshape(b, t, H, D), k.reshape(b, t, H, D), v.reshape(b, t, H, D), H, H, 1.0)
        x = res + o @ w[a + "out_proj.weight"].T + w[a + "out_proj.bias"]
        if not pre:
            x = ln(x, w[p + "self_attn_layer_norm.weight"], w[p + "self_attn_layer_norm.bias"])
        res = x
        h = ln(x, w[p + "final_layer_norm.weight"], w[p + "final_layer_norm.bias"]) if pre else x
        f = act_fn(act, h @ w[p + "fc1.weight"].T + w[p + "fc1.bias"])
        ffn.append(f)
        x = res + f @ w[p + "fc2.weight"].T + w[p + "fc2.bias"]
        if not pre:
            x = ln(x, w[p + "final_layer_norm.weight"], w[p + "final_layer_norm.bias"])
    if pre and not cfg.get("_remove_final_layer_norm", False):
        x = ln(x, w[P + "final_layer_norm.weight"], w[P + "final_layer_norm.bias"])
    if proj != d:
        x = x @ w[P + "project_out.weight"].T
    head = w.get("lm_head.weight", w[P + "embed_tokens.weight"])
    return x @ head.T, ffn


def forward(cfg, w, tokens):
    """tokens [B, T] (B sequences, each from position 0) -> logits [B, T, V], FFN values per layer [B, T, F]."""
    arch = cfg["architectures"][0]
    return (opt if arch == "OPTForCausalLM" else llama)(cfg, w, np.asarray(tokens))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--tokens", help="comma-separated token ids")
    ap.add_argument("--bench", type=int, help="time this many tokens (random ids) and print tokens/s")
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16, help="sequences per forward call in --bench (the profiler's default is 2048 tokens)")
    args = ap.parse_args()
    cfg, w = load(args.model)
    if args.bench:
        rng = np.random.default_rng(0)
        n = args.bench // args.seq_len
        seqs = rng.integers(0, cfg["vocab_size"], size=(n, args.seq_len))
        forward(cfg, w, seqs[: args.batch])  # warm-up
        t0 = time.perf_counter()
        for i in range(0, n, args.batch):
            forward(cfg, w, seqs[i : i + args.batch])
        sec = time.perf_counter() - t0
        print(json.dumps({"tokens": n * args.seq_len, "seconds": sec, "tokens_per_second": n * args.seq_len / sec}))
        return
    tokens = [int(x) for x in args.tokens.split(",")]
    logits, ffn = forward(cfg, w, np.asarray(tokens)[None, :])
    json.dump(
        {
            "tokens": tokens,
            "logits": logits[0].astype(np.float32).tolist(),
            "ffn": [a[0].astype(np.float32).tolist() for a in ffn],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()

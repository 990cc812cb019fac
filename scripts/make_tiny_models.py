#!/usr/bin/env python3
"""Tiny random checkpoints in Hugging Face layout, for testing the profiler's
forward pass against scripts/numpy_forward.py where no real checkpoint exists.

  python3 scripts/make_tiny_models.py OUT_DIR [--seed 0]
  python3 scripts/make_tiny_models.py OUT_DIR --medium   # only llama-medium-f16 (for memory/speed benches)

Writes OUT_DIR/{opt-pre, opt-350m, mistral-gqa, llama-gelu-f16}/ each with config.json and
model.safetensors (HF tensor names):
- opt-pre:   OPTForCausalLM, pre-norm (do_layer_norm_before), ReLU, tied head
- opt-350m:  OPTForCausalLM, post-norm and word_embed_proj_dim < hidden (project_in/out), as opt-350m
- mistral-gqa: MistralForCausalLM, 4 heads over 2 KV heads (grouped-query), SiLU
- llama-gelu-f16: LlamaForCausalLM, GELU, weights stored as F16
- llama-medium-f16 (--medium): LlamaForCausalLM, ReLU, d 2048, FFN 5504, 16 heads, 6 layers,
  F16 (0.3 B parameters: 1.2 GB as float32, above the profiler's 1 GiB weight cache, so it streams)
"""
import argparse
import json
import os
import struct

import numpy as np


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, (dtype, a) in tensors.items():
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def save(out, cfg, ws, dtype="F32"):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    np_dt = np.float16 if dtype == "F16" else np.float32
    write_safetensors(os.path.join(out, "model.safetensors"), {k: (dtype, v.astype(np_dt)) for k, v in ws.items()})


def opt(rng, post_norm):
    d, f, L, H, V, P = 32, 96, 2, 4, 64, (16 if post_norm else 32)
    r = lambda *s: (rng.standard_normal(s) * 0.2).astype(np.float32)
    one = lambda n: (1 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    w = {"model.decoder.embed_tokens.weight": r(V, P), "model.decoder.embed_positions.weight": r(34, d)}
    if P != d:
        w["model.decoder.project_in.weight"] = r(d, P)
        w["model.decoder.project_out.weight"] = r(P, d)
    for l in range(L):
        p = f"model.decoder.layers.{l}."
        for n in ["q_proj", "k_proj", "v_proj", "out_proj"]:
            w[p + f"self_attn.{n}.weight"] = r(d, d)
            w[p + f"self_attn.{n}.bias"] = r(d)
        w[p + "self_attn_layer_norm.weight"], w[p + "self_attn_layer_norm.bias"] = one(d), r(d)
        w[p + "fc1.weight"], w[p + "fc1.bias"] = r(f, d), r(f)
        w[p + "fc2.weight"], w[p + "fc2.bias"] = r(d, f), r(d)
        w[p + "final_layer_norm.weight"], w[p + "final_layer_norm.bias"] = one(d), r(d)
    if not post_norm:
        w["model.decoder.final_layer_norm.weight"], w["model.decoder.final_layer_norm.bias"] = one(d), r(d)
    cfg = {
        "architectures": ["OPTForCausalLM"],
        "model_type": "opt",
        "hidden_size": d,
        "ffn_dim": f,
        "num_hidden_layers": L,
        "num_attention_heads": H,
        "vocab_size": V,
        "max_position_embeddings": 32,
        "do_layer_norm_before": not post_norm,
        "word_embed_proj_dim": P,
        "activation_function": "relu",
        "enable_bias": True,
        "tie_word_embeddings": True,
    }
    return cfg, w


def llama(rng, arch, act, kv, d=32, f=80, L=2, H=4, V=64):
    r = lambda *s: (rng.standard_normal(s, dtype=np.float32) * np.float32(0.2 if d <= 64 else 0.02))
    one = lambda n: (1 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    D = d // H
    w = {"model.embed_tokens.weight": r(V, d), "model.norm.weight": one(d), "lm_head.weight": r(V, d)}
    for l in range(L):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = one(d)
        w[p + "post_attention_layernorm.weight"] = one(d)
        w[p + "self_attn.q_proj.weight"] = r(H * D, d)
        w[p + "self_attn.k_proj.weight"] = r(kv * D, d)
        w[p + "self_attn.v_proj.weight"] = r(kv * D, d)
        w[p + "self_attn.o_proj.weight"] = r(d, H * D)
        w[p + "mlp.gate_proj.weight"] = r(f, d)
        w[p + "mlp.up_proj.weight"] = r(f, d)
        w[p + "mlp.down_proj.weight"] = r(d, f)
    cfg = {
        "architectures": [arch],
        "hidden_size": d,
        "intermediate_size": f,
        "num_hidden_layers": L,
        "num_attention_heads": H,
        "num_key_value_heads": kv,
        "vocab_size": V,
        "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "hidden_act": act,
        "tie_word_embeddings": False,
    }
    return cfg, w


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", metavar="OUT_DIR", help="directory to write the model directories into")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    ap.add_argument("--medium", action="store_true", help="write only llama-medium-f16")
    args = ap.parse_args()
    out = args.out
    rng = np.random.default_rng(args.seed)
    if args.medium:
        cfg, w = llama(rng, "LlamaForCausalLM", "relu", 16, d=2048, f=5504, L=6, H=16, V=256)
        save(os.path.join(out, "llama-medium-f16"), cfg, w, "F16")
        return
    save(os.path.join(out, "opt-pre"), *opt(rng, False))
    save(os.path.join(out, "opt-350m"), *opt(rng, True))
    save(os.path.join(out, "mistral-gqa"), *llama(rng, "MistralForCausalLM", "silu", 2))
    cfg, w = llama(rng, "LlamaForCausalLM", "gelu", 4)
    # Round to f16 first so the NumPy reference sees exactly the stored values.
    save(os.path.join(out, "llama-gelu-f16"), cfg, {k: v.astype(np.float16).astype(np.float32) for k, v in w.items()}, "F16")


if __name__ == "__main__":
    main()

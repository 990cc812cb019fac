#!/usr/bin/env python3
"""An independent .colink reader written from docs/format.md and colink.proto alone
(no colink code, no protobuf library: a minimal proto3 wire decoder), to check that
the spec is enough for a device team. Needs Python 3 and NumPy.

  python3 read_colink.py IMAGE --layer L --neurons 3,17,5 [--compare rows.npy]

Prints the superblock and index summary, checks every checksum, and decodes the
bundles of the given neurons to float32 [k, p, d] (parts of 1 value, biases, left
out, as `colink read` does). With --compare, checks them bit for bit against a .npy
written by `colink read` for the same arguments.
"""
import argparse
import struct
import sys

import numpy as np

# --- CRC32C (docs/format.md#checksums): reflected 0x82F63B78, init/xorout 0xFFFFFFFF
_T = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# --- proto3 wire format: (field number, wire type, value) triples
def varint(b, i):
    shift = result = 0
    while True:
        x = b[i]
        i += 1
        result |= (x & 0x7F) << shift
        shift += 7
        if x < 0x80:
            return result, i


def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            v, i = struct.unpack_from("<Q", b, i)[0], i + 8
        elif wt == 5:
            v, i = struct.unpack_from("<I", b, i)[0], i + 4
        elif wt == 2:
            n, i = varint(b, i)
            v, i = bytes(b[i : i + n]), i + n
        else:
            raise ValueError(f"wire type {wt}")
        yield num, wt, v


def packed_varints(v):
    out, i = [], 0
    while i < len(v):
        x, i = varint(v, i)
        out.append(x)
    return out


def message(b, spec):
    """spec: field number -> (name, kind); kinds: int, str, msg:<spec>, rint (repeated varint), rfix32, rmsg."""
    # proto3: a field at its default is not on the wire, so start from the defaults.
    defaults = {"int": 0, "str": "", "rint": None, "rfix32": None}
    m = {}
    for name, kind in spec.values():
        k = kind if isinstance(kind, str) else kind[0]
        m[name] = [] if k.startswith("r") else defaults.get(k)  # absent message: None
    for num, wt, v in fields(b):
        if num not in spec:
            continue  # unknown fields are ignored (docs/format.md#index)
        name, kind = spec[num]
        if kind == "int":
            m[name] = v
        elif kind == "str":
            m[name] = v.decode("utf-8")
        elif kind == "rint":
            m[name] += packed_varints(v) if wt == 2 else [v]
        elif kind == "rfix32":
            m[name] += list(struct.unpack(f"<{len(v) // 4}I", v)) if wt == 2 else [v]
        elif isinstance(kind, tuple) and kind[0] == "rmsg":
            m[name].append(message(v, kind[1]))
        elif isinstance(kind, tuple) and kind[0] == "msg":
            m[name] = message(v, kind[1])
    return m


DTYPES = {1: "f32", 2: "f16", 3: "bf16", 4: "q8_0", 5: "q4_0"}
TENSOR = {1: ("name", "str"), 2: ("dtype", "int"), 3: ("shape", "rint"), 4: ("offset", "int"), 5: ("length", "int"), 6: ("crc32c", "int")}
PART = {1: ("name", "str"), 2: ("tensor", "str"), 3: ("dtype", "int"), 4: ("elements", "int"), 5: ("offset", "int"), 6: ("bytes", "int")}
CACHE = {1: ("pinned", "rint"), 2: ("lru", "int"), 3: ("gapfill", "int")}
LAYER = {
    1: ("layer", "int"), 2: ("neurons", "int"), 3: ("bundle_bytes", "int"), 4: ("parts", ("rmsg", PART)),
    5: ("region_offset", "int"), 6: ("region_length", "int"), 7: ("order", "rint"), 8: ("slot_of", "rint"),
    9: ("cache", ("msg", CACHE)), 10: ("freq", "rint"), 11: ("chunk_bytes", "int"), 12: ("chunk_crc32c", "rfix32"),
}
INDEX = {
    1: ("format_version", "int"), 2: ("model_id", "str"), 3: ("family", "str"), 4: ("architecture", "str"),
    5: ("config_json", "str"), 6: ("tokenizer", "str"), 7: ("hidden_size", "int"), 8: ("placement_method", "str"),
    9: ("placement_sha256", "str"), 10: ("bundle_dtype", "int"), 11: ("alignment", "int"),
    12: ("tensors", ("rmsg", TENSOR)), 13: ("layers", ("rmsg", LAYER)),
}


def decode(raw: bytes, dtype: str, n: int) -> np.ndarray:
    """docs/format.md#dtypes"""
    if dtype == "f32":
        return np.frombuffer(raw, "<f4", n).astype(np.float32)
    if dtype == "f16":
        return np.frombuffer(raw, "<f2", n).astype(np.float32)
    if dtype == "bf16":
        return (np.frombuffer(raw, "<u2", n).astype(np.uint32) << 16).view(np.float32)
    blocks = n // 32
    if dtype == "q8_0":
        b = np.frombuffer(raw, np.uint8, blocks * 34).reshape(blocks, 34)
        d = b[:, :2].copy().view("<f2").astype(np.float32)
        q = b[:, 2:].view(np.int8).astype(np.float32)
        return (q * d).reshape(-1)
    if dtype == "q4_0":
        b = np.frombuffer(raw, np.uint8, blocks * 18).reshape(blocks, 18)
        d = b[:, :2].copy().view("<f2").astype(np.float32)
        qs = b[:, 2:]
        lo = (qs & 0x0F).astype(np.float32) - 8  # values 0..15 of the block
        hi = (qs >> 4).astype(np.float32) - 8  # values 16..31
        return (np.concatenate([lo, hi], axis=1) * d).reshape(-1)
    raise ValueError(dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--layer", type=int, default=0)
    ap.add_argument("--neurons", default="0")
    ap.add_argument("--compare")
    a = ap.parse_args()
    data = open(a.image, "rb").read()
    magic, ver, sbb, flags, align, ioff, ilen, fsize, icrc = struct.unpack_from("<8sIIIIQQQI", data, 0)
    assert magic == b"\x89CLK\r\n\x1a\n", "magic"
    assert ver == 1 and sbb == 64 and flags == 0 and align == 4096, "superblock fields"
    assert struct.unpack_from("<I", data, 60)[0] == crc32c(data[:60]), "superblock crc"
    assert fsize == len(data), "file size"
    index_bytes = data[ioff : ioff + ilen]
    assert crc32c(index_bytes) == icrc, "index crc"
    idx = message(index_bytes, INDEX)
    print(f"{idx['model_id']} {idx['architecture']} d={idx['hidden_size']} bundles={DTYPES[idx['bundle_dtype']]} "
          f"placement={idx['placement_method']} tensors={len(idx['tensors'])} layers={len(idx['layers'])}")
    for t in idx["tensors"]:
        assert crc32c(data[t["offset"] : t["offset"] + t["length"]]) == t["crc32c"], t["name"]
    for l in idx["layers"]:
        C = l["chunk_bytes"]
        for c, want in enumerate(l["chunk_crc32c"]):
            start = l["region_offset"] + c * C
            end = min(start + C, l["region_offset"] + l["region_length"])
            assert crc32c(data[start:end]) == want, f"layer {l['layer']} chunk {c}"
    print("all checksums OK")
    L = idx["layers"][a.layer]
    ids = [int(x) for x in a.neurons.split(",")]
    parts = [p for p in L["parts"] if p["elements"] > 1]
    out = np.zeros((len(ids), len(parts), idx["hidden_size"]), np.float32)
    for k, i in enumerate(ids):
        base = L["region_offset"] + L["slot_of"][i] * L["bundle_bytes"]  # docs/format.md: finding neuron i
        for j, p in enumerate(parts):
            s = base + p["offset"]
            out[k, j] = decode(data[s : s + p["bytes"]], DTYPES[p["dtype"]], p["elements"])
    print(f"layer {a.layer} neurons {ids}: shape {list(out.shape)}, first values {out[0, 0, :4]}")
    if a.compare:
        ref = np.load(a.compare)
        same = ref.shape == out.shape and np.array_equal(ref.view(np.uint32), out.view(np.uint32))
        print(f"compare with {a.compare}: {'bit-identical' if same else 'DIFFERENT'}")
        sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()

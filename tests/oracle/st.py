"""Minimal safetensors reader/writer for the oracle tests (the format: 8-byte little-endian
header length, JSON header {name: {dtype, shape, data_offsets}}, raw little-endian data)."""
import json
import struct

import numpy as np

_DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}
_NAME = {np.dtype(v): k for k, v in _DT.items()}


def save(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        a = np.array(arr, order="C", copy=True)  # keeps 0-d shapes (ascontiguousarray does not)
        b = a.tobytes()
        header[name] = {"dtype": _NAME[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        s, e = info["data_offsets"]
        out[name] = np.frombuffer(data[base + s:base + e], dtype=_DT[info["dtype"]]).reshape(info["shape"]).copy()
    return out

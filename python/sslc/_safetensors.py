"""Reads the tensors of a safetensors file (sslc's checkpoints are safetensors files: an 8-byte
little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw
little-endian data). A reader of its own because Debian has no safetensors package and PyPI's is a
compiled extension; this one needs numpy only."""
import json
import struct

import numpy as np

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U8": "u1", "BOOL": "?"}


def read_tensors(path, prefix=""):
    """{name: numpy array} of every tensor whose name starts with prefix (the prefix kept)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: not a safetensors file (its header length {n} exceeds the file)")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a safetensors file (header is not JSON: {e})") from None
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__" or not name.startswith(prefix):
            continue
        dt = _DTYPES.get(info.get("dtype"))
        if dt is None:
            raise ValueError(f"{path}: tensor '{name}' has dtype {info.get('dtype')!r}, which this reader does not know")
        start, end = info["data_offsets"]
        shape = [int(d) for d in info["shape"]]
        a = np.frombuffer(data, dtype=dt, count=int(np.prod(shape, dtype=np.int64)), offset=base + start)
        if a.nbytes != end - start:
            raise ValueError(f"{path}: tensor '{name}' has {end - start} bytes for shape {shape}")
        out[name] = a.reshape(shape).astype(a.dtype.newbyteorder("="))
    return out

"""Reads the tensors of a safetensors file (sslc's checkpoints are safetensors files: an 8-byte
little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw
little-endian data). A reader of its own because Debian has no safetensors package and PyPI's is a
compiled extension; this one needs numpy only. sslc's checkpoints carry a CRC-32 over their
metadata and tensors (runtime/checkpoint.h); it is checked, so a damaged file is refused."""
import json
import struct
import zlib

import numpy as np

# st_dtype's order (runtime/safetensors.h): the byte the checksum covers
_ST_CODES = {n: i for i, n in enumerate(["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "I64",
                                          "U64", "F64"])}
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
    _verify(path, header, data, base)
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


def _verify(path, header, data, base):
    """An sslc checkpoint's checksum (version 2: metadata pairs in key order, then per tensor in
    name order its name, dtype, rank, dims and data; version 1: name, dtype and data only). Plain
    safetensors files carry none."""
    meta = header.get("__metadata__") or {}
    if meta.get("format") != "sslc-checkpoint":
        return
    version = meta.get("version")
    key = {"2": "checksum", "1": "crc32"}.get(version)
    if key is None or key not in meta:
        raise ValueError(f"{path}: sslc checkpoint of unknown version {version!r}: update the sslc Python package")
    c = 0
    if version == "2":
        for k in sorted((k for k in meta if k != key), key=lambda k: k.encode()):
            c = zlib.crc32(k.encode() + b"\0" + meta[k].encode() + b"\0", c)
    for name in sorted((k for k in header if k != "__metadata__"), key=lambda k: k.encode()):
        info = header[name]
        if info.get("dtype") not in _ST_CODES:
            raise ValueError(f"{path}: tensor '{name}' has dtype {info.get('dtype')!r}, which sslc does not write")
        c = zlib.crc32(name.encode() + b"\0" + bytes([_ST_CODES[info["dtype"]]]), c)
        if version == "2":
            c = zlib.crc32(bytes([len(info["shape"])]) + b"".join(int(d).to_bytes(8, "little") for d in info["shape"]), c)
        start, end = info["data_offsets"]
        c = zlib.crc32(data[base + start:base + end], c)
    if f"{c:08x}" != meta[key]:
        raise ValueError(f"{path}: the checkpoint is corrupted (CRC-32 {c:08x}, it records {meta[key]}): "
                         f"use an intact copy")

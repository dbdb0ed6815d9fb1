#!/bin/bash
# Checkpoints everywhere the same (issue 15): every reader of weights (run --resume, eval,
# export, embed, features, step --params) verifies a checkpoint alike. A flipped bit in a weight
# or in the metadata (step, total, seed, data) is refused in one line; a tensor holding NaN is
# refused naming it; a run whose state goes NaN under a finite loss (BatchNorm's running_var at
# a huge learning rate) stops naming the step and the tensor and keeps the last finite
# checkpoint; version 1 checkpoints (tensor-only crc32) still load. Args: SSLC_BINARY SOURCE_DIR
sslc=$(realpath "$1"); src=$(realpath "$2")
source "$src/tests/tools/cli_checks.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
py() { /usr/bin/python3 - "$src/tests/oracle" "$work" "$@"; }
# ckpt.py: raw header access and both checksums as runtime/checkpoint.h defines them
cat >"$work/ckpt.py" <<'PY'
import json, struct, sys, zlib
import numpy as np
DT = {"BOOL": 0, "U8": 1, "I8": 2, "I16": 3, "U16": 4, "F16": 5, "BF16": 6, "I32": 7, "U32": 8, "F32": 9, "I64": 10,
      "U64": 11, "F64": 12}  # st_dtype
def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), bytearray(b[8 + n:])
def write(path, h, data):
    j = json.dumps(h, separators=(",", ":")).encode()
    j += b" " * ((8 - len(j) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(j)) + j + bytes(data))
def checksum(h, data, version):
    c = 0
    if version >= 2:
        for k, v in sorted(h["__metadata__"].items()):
            if k != "checksum": c = zlib.crc32(k.encode() + b"\0" + v.encode() + b"\0", c)
    for name in sorted(k for k in h if k != "__metadata__"):
        t = h[name]
        c = zlib.crc32(name.encode() + b"\0" + bytes([DT[t["dtype"]]]), c)
        if version >= 2:
            c = zlib.crc32(bytes([len(t["shape"])]) + b"".join(struct.pack("<q", d) for d in t["shape"]), c)
        s, e = t["data_offsets"]
        c = zlib.crc32(bytes(data[s:e]), c)
    return "%08x" % c
def reseal(h, data):  # a valid version 2 checksum for what the file now holds
    h["__metadata__"]["checksum"] = checksum(h, data, 2)
def f32(h, data, name):
    s, e = h[name]["data_offsets"]
    return np.frombuffer(data, np.float32, (e - s) // 4, s)
PY
ck() { py "$@" <<<"import sys; sys.path.insert(0, sys.argv[2]); from ckpt import *; $(cat)"; }

"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    --optimizer adamw -o "$work/p.plan" >/dev/null
data=fake:64:1x16x16  # 8 steps an epoch
"$sslc" run "$work/p.plan" --data $data --seed 3 --steps 2 --out "$work/good" >/dev/null || bad "a 2-step run"
ck <<'PY' && ok "version 2 with a checksum over the metadata" || bad "version 2 metadata"
h, d = read(sys.argv[2] + "/good/checkpoint.safetensors")
m = h["__metadata__"]
assert m["version"] == "2" and "crc32" not in m and m["checksum"] == checksum(h, d, 2), m
PY
# copy the good run into $work/$1 (a run directory) for a corruption
fresh() { rm -rf "$work/$1"; cp -r "$work/good" "$work/$1"; }
# every reader refuses the run directory $1 with one line matching $2
refused_by_all() {
    local dir=$1 pat=$2
    expect_error "$dir: eval" "$pat" "$sslc" eval "$work/$dir" --data $data
    expect_error "$dir: export" "$pat" "$sslc" export "$work/$dir" -o "$work/x.onnx"
    expect_error "$dir: embed" "$pat" "$sslc" embed "$work/$dir/checkpoint.safetensors" --data $data -o "$work/x.npy"
    expect_error "$dir: resume" "$pat" "$sslc" run --resume "$work/$dir" --steps 4
}

# --- one flipped bit in a weight (0.05 -> 1.7e37: finite, only the checksum sees it)
fresh flip
ck <<'PY'
h, d = read(sys.argv[2] + "/flip/checkpoint.safetensors")
s = h["backbone.features.0.weight"]["data_offsets"][0]
d[s + 3] ^= 0x40  # the exponent's top bit of element 0
assert abs(f32(h, d, "backbone.features.0.weight")[0]) > 1e30
write(sys.argv[2] + "/flip/checkpoint.safetensors", h, d)
PY
refused_by_all flip "checkpoint is corrupted (checksum"
py <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, st
st.save(sys.argv[2] + "/images.safetensors", {"images": np.zeros((2, 1, 16, 16), np.float32)})
PY
expect_error "flip: features" "checkpoint is corrupted" "$sslc" features "$work/flip" --inputs "$work/images.safetensors" \
    -o "$work/f.safetensors"
expect_error "flip: --params" "checkpoint is corrupted" "$sslc" export "$work/p.plan" \
    --params "$work/flip/checkpoint.safetensors" -o "$work/x.onnx"

# --- one flipped bit in the metadata: step 2 -> 6, total 2 -> 6, seed 3 -> 7, data fake:64 -> fake:74
for flip in "step 0 4" "total 0 4" "seed 0 4" "data 5 1" "format 0 1" "plan_crc32 0 1"; do
    set -- $flip
    fresh "meta_$1"
    ck "$@" <<'PY'
key, at, mask = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
p = sys.argv[2] + "/meta_" + key + "/checkpoint.safetensors"
b = bytearray(open(p, "rb").read())
i = b.index(b'"%s":"' % key.encode()) + len(key) + 4 + at
b[i] ^= mask
open(p, "wb").write(b)
PY
    refused_by_all "meta_$1" "checkpoint is corrupted (checksum"
done

# --- a tensor holding NaN (with a valid checksum: only the scan sees it) is refused, named
fresh nan
ck <<'PY'
p = sys.argv[2] + "/nan/checkpoint.safetensors"
h, d = read(p)
f32(h, d, "backbone.features.1.running_var")[3] = float("nan")
reseal(h, d)
write(p, h, d)
PY
refused_by_all nan "'backbone.features.1.running_var' holds NaN (element 3 of"
py <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, st
d = st.load(sys.argv[2] + "/good/checkpoint.safetensors")
st.save(sys.argv[2] + "/plain.safetensors", d)  # no sslc metadata: a plain weights file
d["backbone.features.0.weight"].flat[0] = np.inf
st.save(sys.argv[2] + "/plain_inf.safetensors", d)
PY
"$sslc" export "$work/p.plan" --params "$work/plain.safetensors" -o "$work/plain.onnx" >/dev/null \
    && ok "a plain weights file (no sslc metadata) still exports" || bad "plain weights file"
expect_error "plain file with Inf: export" "'backbone.features.0.weight' holds Inf (element 0 of" \
    "$sslc" export "$work/p.plan" --params "$work/plain_inf.safetensors" -o "$work/x.onnx"
expect_error "plain file with Inf: eval" "'backbone.features.0.weight' holds Inf" \
    "$sslc" eval "$work/p.plan" --params "$work/plain_inf.safetensors" --data $data

# --- version 1 (tensor-only crc32) still loads; its weights are still checked; resume writes version 2
fresh v1
ck <<'PY'
p = sys.argv[2] + "/v1/checkpoint.safetensors"
h, d = read(p)
m = h["__metadata__"]
del m["checksum"]
m["version"], m["crc32"] = "1", checksum(h, d, 1)
write(p, h, d)
write(sys.argv[2] + "/v1_flip.safetensors", h, d[:5] + bytes([d[5] ^ 0x10]) + d[6:])
PY
"$sslc" export "$work/v1" -o "$work/v1.onnx" >/dev/null && ok "version 1: export" || bad "version 1: export"
"$sslc" run --resume "$work/v1" --steps 4 >/dev/null && ok "version 1: resume" || bad "version 1: resume"
ck <<'PY' && ok "version 1: resumed into version 2" || bad "version 1: resumed into version 2"
h, d = read(sys.argv[2] + "/v1/checkpoint.safetensors")
assert h["__metadata__"]["version"] == "2" and h["__metadata__"]["step"] == "4", h["__metadata__"]
PY
expect_error "version 1: a flipped tensor bit" "checkpoint is corrupted" \
    "$sslc" export "$work/p.plan" --params "$work/v1_flip.safetensors" -o "$work/x.onnx"
fresh v3
sed -i '1s/"version":"2"/"version":"3"/' "$work/v3/checkpoint.safetensors"
expect_error "version 3" "checkpoint format version 3, this sslc reads versions 1 and 2" \
    "$sslc" run --resume "$work/v3" --steps 4

# --- a huge learning rate: the loss stays finite while running_var goes NaN at step 2
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    --optimizer sgd --lr 1e10 --lr-schedule constant -o "$work/huge.plan" >/dev/null
expect_error "huge lr: stops naming the step and the tensor" \
    "'backbone.features.[0-9]*.running_var' holds NaN .* after the update at step 2 (epoch 1); stopped. The last good checkpoint is step 1 in" \
    "$sslc" run "$work/huge.plan" --data $data --steps 8 --out "$work/huge" --checkpoint-every 1
ck <<'PY' && ok "huge lr: the last checkpoint (step 1) is finite" || bad "huge lr: last checkpoint"
import numpy as np
h, d = read(sys.argv[2] + "/huge/checkpoint.safetensors")
assert h["__metadata__"]["step"] == "1", h["__metadata__"]
for k, t in h.items():
    if k != "__metadata__" and t["dtype"] == "F32": assert np.isfinite(f32(h, d, k)).all(), k
PY
"$sslc" export "$work/huge" -o "$work/huge.onnx" >/dev/null && ok "huge lr: the kept checkpoint exports" \
    || bad "huge lr: the kept checkpoint exports"
# without checkpoints, the progress line's check stops it (not a save's)
expect_error "huge lr: no --out" "running_var' holds NaN .* at step 2 (epoch 1); stopped (no checkpoint was written)" \
    "$sslc" run "$work/huge.plan" --data $data --steps 8 --log-every 1
# AdamW at lr 1e3: the loss sits near ln 15 while running_var goes NaN
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    --optimizer adamw --lr 1e3 --lr-schedule constant -o "$work/adamw.plan" >/dev/null
expect_error "adamw lr 1e3: stops" "running_var' holds NaN .* after the update at step" \
    "$sslc" run "$work/adamw.plan" --data $data --steps 16 --out "$work/adamw"

# found by the checkpoint fuzzer: a tensor name holding a newline (checksum valid) was quoted into
# a two-line error; names and metadata with control characters are refused without quoting them
expect_error "a tensor name with a newline: one line, not quoted" "name holds a control character" \
    "$sslc" export "$src/tests/fuzz/corpus/plan/tiny.plan" --params "$src/tests/fuzz/regress/checkpoint_newline_name.safetensors" \
    -o "$work/nl.onnx"

echo "ckpt cli: $pass passed, $fail failed"
[ $fail -eq 0 ]

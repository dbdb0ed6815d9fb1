#!/bin/bash
# Hostile inputs (issue 15): every reader of user input refuses, with one line and promptly,
# what would otherwise block or exhaust it. A FIFO given as a plan, checkpoint, ONNX model,
# folder: image, CIFAR batch or IDX file is "not a regular file" (it used to block in open()
# forever). Protobuf nested thousands deep (an ONNX model of subgraphs, a plan with a valid
# checksum) is refused in one line instead of overflowing protobuf-c's recursion (crash). A PNG
# whose compressed data holds more than the image is refused (libpng's warning used to pass).
# Args: SSLC_BINARY SOURCE_DIR
sslc=$(realpath "$1"); src=$(realpath "$2")
source "$src/tests/tools/cli_checks.sh"
t() { timeout 10 "$sslc" "$@"; } # a hang shows as rc 124 and fails expect_error

"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    -o "$work/p.plan" >/dev/null || bad "compile"
"$sslc" run "$work/p.plan" --data fake:16:1x16x16 --steps 1 --out "$work/run" >/dev/null 2>&1 || bad "run"

# --- A. FIFOs: refused before any read, within the timeout, in one line
mkfifo "$work/fifo"
nrf="is not a regular file"
expect_error "fifo plan (run)" "$nrf" t run "$work/fifo"
expect_error "fifo plan (inspect)" "$nrf" t inspect "$work/fifo"
ln -s "$work/fifo" "$work/model.onnx"
expect_error "fifo onnx model" "$nrf" t compile simclr --backbone "$work/model.onnx" -o "$work/x.plan"
mkdir "$work/ck" && cp "$work/run/plan.plan" "$work/ck/" && mkfifo "$work/ck/checkpoint.safetensors"
expect_error "fifo checkpoint (export)" "$nrf" t export "$work/ck" -o "$work/x.onnx"
cp "$work/run/metrics.jsonl" "$work/ck/"
expect_error "fifo checkpoint (resume)" "$nrf" t run --resume "$work/ck" --steps 2
mkdir -p "$work/folder/cat" && mkfifo "$work/folder/cat/a.png" "$work/folder/cat/b.jpg"
expect_error "fifo folder: png" "$nrf" t run "$work/p.plan" --data "folder:$work/folder" --steps 1
rm "$work/folder/cat/a.png" && mkfifo "$work/folder/cat/c.jpg" # two images: one may be held out for the test split
expect_error "fifo folder: jpeg" "$nrf" t run "$work/p.plan" --data "folder:$work/folder" --steps 1
mkdir "$work/cifar" && mkfifo "$work/cifar/data_batch_1.bin"
expect_error "fifo cifar batch" "$nrf" t run "$work/p.plan" --data "cifar10:$work/cifar" --steps 1
mkdir "$work/idx" && mkfifo "$work/idx/train-images-idx3-ubyte.gz"
expect_error "fifo idx file" "$nrf" t run "$work/p.plan" --data "fashion-mnist:$work/idx" --steps 1

# --- B. deeply nested protobuf (written as raw wire data; tests/test_pbnest.c has the details)
/usr/bin/python3 - "$work" <<'PY'
import struct, sys, zlib
def varint(v):
    out = b""
    while True:
        out += bytes([(v & 0x7f) | (0x80 if v > 0x7f else 0)]); v >>= 7
        if not v: return out
def field(n, body): return varint(n << 3 | 2) + varint(len(body)) + body
g = b""  # ONNX: graph { node { op_type "If" attribute { name "then_branch" type GRAPH g { ... } } } }
for _ in range(3000):
    attr = field(1, b"then_branch") + varint(20 << 3) + varint(5) + field(6, g)
    g = field(1, field(4, b"If") + field(5, attr))
open(sys.argv[1] + "/deep.onnx", "wb").write(varint(1 << 3) + varint(8) + field(7, g))
gr = b""  # plan: train Graph { compiled CompiledStep { lowered Graph { ... } } }
for _ in range(20000): gr = field(5, field(2, gr))
payload = varint(1 << 3) + varint(2) + field(6, gr)
hdr = b"SSLCPLAN" + struct.pack("<IIQ", 2, zlib.crc32(payload), len(payload))
open(sys.argv[1] + "/deep.plan", "wb").write(hdr + payload)
PY
expect_error "onnx nested 3,000 deep" "nested more than" t compile simclr --backbone "$work/deep.onnx" -o "$work/x.plan"
expect_error "plan nested 20,000 deep (run)" "nested more than" t run "$work/deep.plan"
expect_error "plan nested 20,000 deep (inspect)" "nested more than" t inspect "$work/deep.plan"

# --- C. libpng's warnings about image data are errors (test_dataset has the JPEG and IDX cases)
/usr/bin/python3 - "$work" <<'PY'
import os, struct, sys, zlib
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
def png(extra):  # 16x16 gray, filter 0 rows, then `extra` bytes the image has no room for
    raw = b"".join(b"\0" + bytes((x * 16 + y) & 255 for x in range(16)) for y in range(16)) + extra
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for d, extra in (("good", b""), ("extra", b"\0" * 51)):
    for s in ("train", "test"):
        os.makedirs(f"{sys.argv[1]}/{d}/{s}/a")
    open(f"{sys.argv[1]}/{d}/test/a/t.png", "wb").write(png(b""))
    for i in range(8): open(f"{sys.argv[1]}/{d}/train/a/{i}.png", "wb").write(png(b"" if i < 7 else extra))
PY
"$sslc" run "$work/p.plan" --data "folder:$work/good" --steps 1 >/dev/null 2>&1 && ok "hand-made PNGs decode" \
    || bad "hand-made PNGs do not decode"
expect_error "PNG with extra image data" "7.png: cannot decode PNG: IDAT: Too much image data" \
    t run "$work/p.plan" --data "folder:$work/extra" --steps 1

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

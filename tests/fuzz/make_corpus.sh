#!/bin/bash
# Regenerates the seed corpora tests/fuzz/corpus/<reader>/ (committed; small: a few valid files
# each). Usage: tests/fuzz/make_corpus.sh build/sslc
#   plan/        a tiny compiled plan (simclr, convnet at width 1/8, 8x8 gray, batch 2) with its
#                compiled step, and the same graph-only (--targets none, --augment none)
#   checkpoint/  checkpoints of 2-step and 1-step runs of plan/tiny.plan (fuzz_checkpoint loads
#                them into that plan's engine)
#   onnx/        that plan's encoder exported as ONNX (opset 17; opset 13 with BatchNorm folded;
#                with the projection head)
#   image/       PNG (gray, RGB, RGBA, 16-bit gray, palette) and JPEG (gray, RGB, progressive) by
#                Debian's python3-pil (PYTHON overrides /usr/bin/python3)
#   cifar/       CIFAR-10 binary batches of 1 and 3 records
#   idx/         fuzz_idx's container (u32 LE length, images file, labels file) of 3 samples of
#                4x5 gray, plain and gzipped
#   compile_args/ NUL-separated `sslc compile` argument lists
set -euo pipefail
SSLC=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
C=$HERE/corpus
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rm -rf "$C"
mkdir -p "$C"/{plan,checkpoint,onnx,image,cifar,idx,compile_args}

TINY=(simclr --backbone convnet --width 0.125 --image-size 8 --channels 1 --batch 2 --set projection_dim=8)
"$SSLC" compile "${TINY[@]}" -o "$C/plan/tiny.plan" >/dev/null
"$SSLC" compile "${TINY[@]}" --augment none --targets none -o "$C/plan/tiny_graph.plan" >/dev/null

(cd "$TMP" && "$SSLC" run "$C/plan/tiny.plan" --steps 2 --data fake:4 --out run2 >/dev/null &&
  "$SSLC" run "$C/plan/tiny.plan" --steps 2 --stop-after 1 --data fake:4 --out run1 >/dev/null)
cp "$TMP/run2/checkpoint.safetensors" "$C/checkpoint/step2.safetensors"
cp "$TMP/run1/checkpoint.safetensors" "$C/checkpoint/step1.safetensors"

"$SSLC" export "$TMP/run2" -o "$C/onnx/tiny.onnx" >/dev/null
"$SSLC" export "$TMP/run2" --opset 13 --fold-bn -o "$C/onnx/tiny_fold13.onnx" >/dev/null
"$SSLC" export "$TMP/run2" --with-projector -o "$C/onnx/tiny_proj.onnx" >/dev/null

"${PYTHON:-/usr/bin/python3}" - "$C" <<'PY'
import gzip, io, struct, sys
from PIL import Image
C = sys.argv[1]
def px(w, h, k):
    return bytes((x * 37 + y * 11 + k * 5) % 256 for y in range(h) for x in range(w) for _ in range(k))
for name, mode, k in [("gray.png", "L", 1), ("rgb.png", "RGB", 3), ("rgba.png", "RGBA", 4)]:
    Image.frombytes(mode, (7, 5), px(7, 5, k)).save(f"{C}/image/{name}")
Image.frombytes("I;16", (6, 4), px(6, 4, 2)).save(f"{C}/image/gray16.png")
Image.frombytes("RGB", (6, 4), px(6, 4, 3)).convert("P").save(f"{C}/image/palette.png")
Image.frombytes("L", (9, 7), px(9, 7, 1)).save(f"{C}/image/gray.jpg", quality=80)
Image.frombytes("RGB", (9, 7), px(9, 7, 3)).save(f"{C}/image/rgb.jpg", quality=80)
Image.frombytes("RGB", (16, 16), px(16, 16, 3)).save(f"{C}/image/rgb_progressive.jpg", quality=60, progressive=True)

def cifar(n):
    return b"".join(bytes([r * 4 % 10]) + px(32, 32, 3)[:3072] for r in range(n))
open(f"{C}/cifar/one.bin", "wb").write(cifar(1))
open(f"{C}/cifar/three.bin", "wb").write(cifar(3))

n, h, w = 3, 4, 5
images = b"\0\0\x08\x03" + struct.pack(">III", n, h, w) + px(w, h * n, 1)
labels = b"\0\0\x08\x01" + struct.pack(">I", n) + bytes([0, 7, 9])
def pack(a, b):
    return struct.pack("<I", len(a)) + a + b
def gz(b):
    return gzip.compress(b, mtime=0)
open(f"{C}/idx/plain", "wb").write(pack(images, labels))
open(f"{C}/idx/gzip", "wb").write(pack(gz(images), gz(labels)))
open(f"{C}/idx/mixed", "wb").write(pack(gz(images), labels))

args = [
    ["simclr", "--backbone", "convnet", "--width", "0.125", "--image-size", "8", "--channels", "1", "--batch", "2", "-o", "x.plan"],
    ["byol", "--optimizer", "lars", "--lr", "0.3", "--lars-eta", "0.001", "--weight-decay", "1e-6", "--exclude-bias-norm", "on",
     "--set", "tau=0.99", "--set", "cosine_tau=true", "--lr-schedule", "cosine", "--warmup-epochs", "10"],
    ["dino", "--backbone", "vit-tiny", "--patch-size", "4", "--depth", "2", "--augment", "dino", "--source-size", "40x36",
     "--mean", "0.5,0.4,0.3", "--std", "0.2,0.2,0.2", "--seed", "7", "--targets", "cpu,cuda", "--cuda-arch", "sm_80"],
    ["simclr", "--optimizer=sgd", "--momentum", "0.9", "--nesterov", "--cifar-stem", "on", "--augment", "none"],
    ["moco", "--optimizer=adamw", "--adam-eps=1e-8", "--backbone", "resnet50", "--batch", "65536", "--image-size", "1024"],
    ["barlow_twins", "--backbone", "tiny.onnx", "--backbone-output", "features", "--targets", "none", "--help"],
]
for i, a in enumerate(args):
    open(f"{C}/compile_args/args{i}", "wb").write(b"\0".join(s.encode() for s in a))
PY
du -sh "$C"

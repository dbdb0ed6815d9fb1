#!/bin/bash
# folder:DIR with your own images: flat (unlabelled), in class folders, of mixed sizes and modes
# (RGB, gray, RGBA, palette, 16-bit gray and RGB PNG, RGB and gray JPEG) made with PIL. The
# loader's resize + center crop equals torchvision's Resize(S) + CenterCrop(S) on the same PIL
# image exactly (max difference 0) for PNG and fully decoded JPEG; large JPEGs decoded reduced by
# libjpeg-turbo's scaled IDCT stay within 2 levels on average (max 16). A folder without train/
# and test/ is split: the held-out images are disjoint from the trained ones and the output says
# so; sslc embed writes F.paths.txt / F.classes.txt in row order. Errors an option fixes
# (--image-size, --batch, --source-size) come before compiling and name the option.
# Args: SSLC_BINARY SOURCE_DIR
set -u
sslc=$1 src=$2
py=/usr/bin/python3
. "$(dirname "$0")/../tools/cli_checks.sh"
if ! $py -c 'import numpy, PIL, torchvision' 2>/dev/null; then echo "SKIP: $py lacks numpy, PIL or torchvision"; exit 77; fi

$py - "$work" <<'PY' || bad "making the images"
import sys, os, numpy as np
from PIL import Image
w = sys.argv[1]
rng = np.random.default_rng(0)
def smooth(h, wd, k):
    y, x = np.mgrid[0:h, 0:wd]
    return np.stack([np.sin(x / (13.0 + k)) * 90 + 128, np.cos(y / (9.0 + k)) * 80 + 120,
                     (x + 2 * y) * 255.0 / (wd + 2 * h)], -1).clip(0, 255).astype(np.uint8)
os.makedirs(f"{w}/flat/more/deeper")
sizes = [(37, 53), (64, 48), (100, 100), (20, 31), (45, 45), (90, 30), (17, 17)]
for i in range(21):
    h, wd = sizes[i % 7]
    a = (smooth(h, wd, i) * 0.5 + rng.integers(0, 128, (h, wd, 3))).astype(np.uint8)
    kind = i % 7
    sub = "" if i < 14 else "more/" if i < 18 else "more/deeper/"
    name = f"{w}/flat/{sub}img{i:02d}"
    if kind == 0: Image.fromarray(a).save(name + ".png")
    elif kind == 1: Image.fromarray(a).convert("L").save(name + ".png")
    elif kind == 2: Image.fromarray(a).convert("RGBA").save(name + ".png")
    elif kind == 3: Image.fromarray(rng.integers(0, 65536, (h, wd), dtype=np.uint16)).save(name + ".png")  # I;16
    elif kind == 4: Image.fromarray(a).save(name + ".jpg", quality=90)
    elif kind == 5: Image.fromarray(a).convert("P").save(name + ".png")
    else: Image.fromarray(a).convert("L").save(name + ".jpeg", quality=85)
# 16-bit RGB PNG: PIL cannot write it; a minimal writer with zlib
import zlib, struct
def png16(path, arr):
    h, wd, _ = arr.shape
    raw = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", wd, h, 16, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png16(f"{w}/flat/rgb16.png", rng.integers(0, 65536, (40, 24, 3), dtype=np.uint16))
# large smooth JPEGs: decoded reduced (1/2 .. 1/8) when resized to 32
os.makedirs(f"{w}/big")
for i, (h, wd) in enumerate([(480, 640), (1000, 750), (333, 1200), (2000, 1500)]):
    Image.fromarray(smooth(h, wd, 3 * i)).save(f"{w}/big/b{i}.jpg", quality=90)
# labelled, no splits: 2 classes of 35 noise images (64 or more: decoded by several threads)
for c in ("cat", "dog"):
    os.makedirs(f"{w}/pets/{c}")
    for i in range(35):
        Image.fromarray(rng.integers(0, 256, (24 + i % 10, 20, 3), dtype=np.uint8)).save(f"{w}/pets/{c}/{i}.png")
PY

# pixels as the encoder sees them with mean 0, std 1: u8 / 255
"$sslc" compile simclr --image-size 32 --batch 8 --mean 0 --std 1 --width 0.125 -o "$work/p.plan" >/dev/null || bad "compile"
for d in flat big; do
  for s in train test; do
    "$sslc" embed "$work/p.plan" --data "folder:$work/$d" --features pixels --split $s -o "$work/$d-$s.npy" -q \
      >"$work/out" 2>"$work/err" || bad "embed $d $s: $(cat "$work/err")"
  done
done
grep -q "paths -> $work/big-test.paths.txt" "$work/out" && ok "embed names the paths file" || bad "embed output: $(cat "$work/out")"
$py - "$work" <<'PY' && ok "resize + center crop: PNG / JPEG exactly torchvision's, reduced JPEG close; split disjoint" || bad "resize vs torchvision"
import sys, os, numpy as np, torchvision.transforms as T
from PIL import Image
w = sys.argv[1]
tf = T.Compose([T.Resize(32), T.CenterCrop(32)])
def reference(p):
    im = Image.open(p)
    if im.mode in ("I", "I;16"):  # 16-bit gray: PIL's convert would clip; sslc scales to 8 bits
        im = Image.fromarray(np.round(np.asarray(im, np.float64) / 257).astype(np.uint8))
    return np.asarray(tf(im.convert("RGB")), np.float64).transpose(2, 0, 1).reshape(-1)
def rgb16(p):  # the same scaling, from the raw 16-bit samples
    import zlib, struct
    b = open(p, "rb").read(); wd, h = struct.unpack(">II", b[16:24])
    raw = zlib.decompress(b[b.index(b"IDAT") + 4:b.index(b"IEND") - 8])
    a = np.frombuffer(raw, np.uint8).reshape(h, 1 + wd * 6)[:, 1:].copy().view(">u2").reshape(h, wd, 3)
    return np.asarray(tf(Image.fromarray(np.round(a / 257).astype(np.uint8))), np.float64).transpose(2, 0, 1).reshape(-1)
for d in ("flat", "big"):
    rows = {}
    for s in ("train", "test"):
        x = np.load(f"{w}/{d}-{s}.npy")
        paths = open(f"{w}/{d}-{s}.paths.txt").read().split("\n")[:-1]
        assert len(paths) == len(x), (len(paths), x.shape)
        for p, r in zip(paths, x):
            rows[p] = r
        assert paths == sorted(paths, key=lambda q: (q.count("/"), q)) or d == "big", paths
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(f"{w}/{d}") for f in fs)
    assert sorted(rows) == files, (sorted(rows), files)  # every image once: train and test disjoint
    for p, r in rows.items():
        got = r.astype(np.float64) * 255
        ref = rgb16(p) if p.endswith("rgb16.png") else reference(p)
        diff = np.abs(got - ref)
        if d == "flat":
            assert diff.max() < 1e-3, (p, diff.max())
        else:
            assert diff.mean() < 2.0 and diff.max() <= 16, (p, diff.mean(), diff.max())
        print(f"  {os.path.relpath(p, w):28s} max {diff.max():5.2f}  mean {diff.mean():.3f}")
PY
n_test=$(grep -c . "$work/flat-test.paths.txt")
[ "$n_test" -eq 2 ] && ok "22 images: 2 held out (10 %)" || bad "held out: $n_test"

# errors before compiling, naming the option that fixes them
expect_error "mixed sizes without --image-size" "differ in size.*--image-size N" \
  "$sslc" train simclr --data "folder:$work/flat" --out "$work/r0" --steps 1
grep -q compiling "$work/out" && bad "mixed sizes: refused after compiling" || ok "mixed sizes: refused before compiling"
expect_error "fewer images than a batch" "fewer than one batch of 256: give --batch 63 or less" \
  "$sslc" train simclr --data "folder:$work/pets" --image-size 16 --out "$work/r1" --steps 1
grep -q compiling "$work/out" && bad "batch: refused after compiling" || ok "batch: refused before compiling"
if [ -d /usr/share/datasets/fashion-mnist ]; then
  expect_error "fashion-mnist with another --source-size" "has 28x28 (HxW) images.*give --source-size 28x28" \
    "$sslc" train simclr --source-size 32 --out "$work/r2" --steps 1
fi

# the decoded images must fit in what the process may use (3 images at 8000x8000: 549 MiB)
"$sslc" compile simclr --image-size 32 --source-size 8000 --batch 2 --width 0.125 -o "$work/huge.plan" >/dev/null || bad "compile huge"
if ldd "$sslc" | grep -q libasan; then echo "skip the address-space limit under ASan (its shadow memory needs more)"
else
  expect_error "decoded images over the memory limit" "need 549.3 MiB in memory, more than there is (RLIMIT_AS.*smaller --image-size" \
    bash -c 'ulimit -v 700000; exec "$0" embed "$1" --data "folder:$2" -o "$3" -q' "$sslc" "$work/huge.plan" "$work/big" "$work/h.npy"
fi

# a labelled folder without splits: trained on 63, evaluated on the 7 held out, and it says so
"$sslc" train simclr --data "folder:$work/pets" --image-size 16 --batch 8 --width 0.125 --steps 2 --knn 5 \
  --out "$work/run" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && grep -q "the test split is 7 of the 70 images (10 %.*held out and never trained on" "$work/out" &&
  grep -q "7 of the 70 images" "$work/err" && grep -q "linear top-1" "$work/out" &&
  ok "no splits: held-out evaluation, said at training and at evaluation" ||
  bad "held-out training (rc $rc): $(tail -3 "$work/out") $(tail -3 "$work/err")"
grep -q '"n_test": *7\|"test": *7' "$work/run/eval.json" && ok "eval.json: 7 test images" || bad "eval.json: $(cat "$work/run/eval.json")"
"$sslc" embed "$work/run" --data "folder:$work/pets" -o "$work/pets.npy" -q >/dev/null 2>"$work/err" &&
  [ "$(sort -u "$work/pets.classes.txt" | tr '\n' ' ')" = "cat dog " ] &&
  [ "$(wc -l <"$work/pets.classes.txt")" -eq 63 ] && [ "$(wc -l <"$work/pets.paths.txt")" -eq 63 ] &&
  paste "$work/pets.paths.txt" "$work/pets.classes.txt" | awk -F'\t' '{ n = split($1, p, "/"); if (p[n-1] != $2) exit 1 }' &&
  ok "embed: classes.txt names each row's class folder" || bad "embed classes: $(cat "$work/err")"

# online kNN decodes its seeded subsets once: after the first measurement the folder is moved away
# (the run held stopped meanwhile), and the second measurement still runs, on the kept pixels; it
# scores what `sslc eval --limit` scores on the same subsets with the final weights
cp -r "$work/pets" "$work/gone"
"$sslc" train simclr --data "folder:$work/gone" --backbone convnet --image-size 16 --batch 8 --width 0.25 \
  --steps 200 --online-knn 20:20 --online-knn-every 100 --knn 5 --log-every 100 --no-eval --out "$work/run3" \
  >"$work/out" 2>"$work/err" &
pid=$!
for i in $(seq 1 1200); do grep -q "online knn-5 top-1" "$work/out" && break; sleep 0.05; done
kill -STOP $pid; mv "$work/gone" "$work/moved"; kill -CONT $pid
wait $pid; rc=$?
[ $rc -eq 0 ] && [ "$(grep -c "online knn-5 top-1" "$work/out")" -eq 2 ] && grep -q "step 200 .*online knn-5" "$work/out" &&
  ok "online kNN on folder data: read once, measured again after the folder is gone" ||
  bad "online kNN after the folder is gone (rc $rc): $(grep -i knn "$work/out" | tail -3) $(tail -2 "$work/err")"
online=$(sed -n 's/^step 200 .*online knn-5 top-1 \([0-9.]*\) %.*/\1/p' "$work/out")
"$sslc" eval "$work/run3" --data "folder:$work/moved" --knn 5 --limit 20 --seed 0 --json --quiet >"$work/ev.json" &&
  evaluated=$(sed -n 's/.*"knn_top1": \([0-9.]*\),.*/\1/p' "$work/ev.json") &&
  [ -n "$online" ] && [ -n "$evaluated" ] && awk -v a="$online" -v b="$evaluated" 'BEGIN { exit !(a - b < 0.01 && b - a < 0.01) }' &&
  ok "online kNN's kept subsets score as sslc eval --limit on the same images" ||
  bad "online kNN $online %, sslc eval --limit: $(cat "$work/ev.json")"

# an unlabelled folder trains and says why it is not evaluated
"$sslc" train simclr --data "folder:$work/flat" --image-size 16 --batch 8 --width 0.125 --steps 1 --out "$work/run2" \
  >"$work/out" 2>"$work/err" && grep -q "no evaluation: .*has no labels" "$work/out" &&
  ok "unlabelled folder: trains, no evaluation, says why" || bad "unlabelled: $(tail -2 "$work/out") $(cat "$work/err")"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

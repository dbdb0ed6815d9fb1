#!/bin/bash
# Watching a run (issue 14): online kNN every epoch in the progress output and metrics.jsonl,
# without changing the training (resume with it on stays bit-exact, and equals a run with it
# off); --eval-limit; `sslc report RUN` writes one self-contained page that headless Chromium
# renders with every section visible. Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$(realpath "$1"); src=$(realpath "$2")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
expect_error() {
    local pat=$1; shift
    set +e; "$@" >"$work/out.txt" 2>"$work/err.txt"; local rc=$?; set -e
    [ $rc -ne 0 ] || fail "expected an error from: $*"
    [ $rc -lt 128 ] || fail "crashed (exit $rc): $*"
    [ "$(wc -l <"$work/err.txt")" -eq 1 ] || { cat "$work/err.txt"; fail "expected one error line from: $*"; }
    grep -q -- "$pat" "$work/err.txt" || { cat "$work/err.txt"; fail "error does not match '$pat': $*"; }
}
# 8 steps an epoch; the online kNN subsets are smaller than the splits, so they are real subsets
train() { "$sslc" train simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    --data fake:64:1x16x16 --seed 3 --epochs 2 --online-knn 40:24 "$@"; }

# --- online kNN: a line per epoch on stdout and in metrics.jsonl; resume with it on is bit-exact
train --out "$work/full" --eval-limit 32 >"$work/full.txt"
grep -q "^online kNN: knn-20 on 40 train / 24 test images" "$work/full.txt" || { cat "$work/full.txt"; fail "no online kNN announcement"; }
[ "$(grep -c "online knn-20 top-1" "$work/full.txt")" -eq 2 ] || { cat "$work/full.txt"; fail "expected 2 online kNN lines"; }
grep -q "at most 32 seeded images of each split" "$work/full.txt" || fail "--eval-limit not announced"
train --out "$work/half" --no-eval --stop-after 5 >/dev/null
"$sslc" train simclr --resume --out "$work/half" --no-eval --online-knn 40:24 >/dev/null
cmp -s "$work/full/checkpoint.safetensors" "$work/half/checkpoint.safetensors" || fail "resume with online kNN is not bit-exact"
train --out "$work/off" --no-eval --online-knn off >"$work/off.txt"
cmp -s "$work/full/checkpoint.safetensors" "$work/off/checkpoint.safetensors" || fail "online kNN changed the training"
grep -q "online knn" "$work/off.txt" && fail "--online-knn off still measured"
train --out "$work/every" --no-eval --online-knn-every 3 >"$work/every.txt"
[ "$(grep -c "online knn-20 top-1" "$work/every.txt")" -eq 6 ] || { cat "$work/every.txt"; fail "--online-knn-every 3: expected steps 3 6 9 12 15 16"; }
"$sslc" eval "$work/off" --data fake:64:1x16x16 --limit 20 --json --quiet >"$work/eval20.json"
/usr/bin/python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
def knn(run):
    ls = [json.loads(l) for l in open(f"{w}/{run}/metrics.jsonl")]
    return [(l["step"], l["epoch"], l["online_knn_top1"], l["online_knn_train"], l["online_knn_test"]) for l in ls if "online_knn_top1" in l]
full, half = knn("full"), knn("half")
assert [k[0] for k in full] == [8, 16], full
assert all(k[3] == 40 and k[4] == 24 and 0 <= k[2] <= 100 for k in full), full
assert full == half, (full, half)          # the same weights score the same after a resume
assert [k[0] for k in knn("every")] == [3, 6, 9, 12, 15, 16], knn("every")
ev = json.load(open(f"{w}/full/eval.json"))
assert ev["limit"] == 32 and ev["n_train"] == 32 and ev["n_test"] == 32, ev
ev = json.load(open(f"{w}/eval20.json"))
assert ev["limit"] == 20 and ev["n_train"] == 20 and ev["n_test"] == 20, ev
PY

# --- Ctrl-C during an online kNN measurement stops it between batches: the run checkpoints and
# exits 130 within the grace period (1 s here; the measurement of 60000 images takes longer)
SSLC_STOP_GRACE_S=1 "$sslc" train simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    --data fake:60000:1x16x16 --steps 1000000 --online-knn 60000:1000 --online-knn-every 2 --log-every 1 --no-eval \
    --out "$work/int" >"$work/int.txt" 2>&1 &
pid=$!
for i in $(seq 1 600); do grep -q '"step":2,' "$work/int/metrics.jsonl" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 130 ] || { cat "$work/int.txt"; fail "Ctrl-C during online kNN: exit $rc"; }
grep -q "^interrupted (Ctrl-C) at step 2; checkpoint written" "$work/int.txt" || { cat "$work/int.txt"; fail "Ctrl-C during online kNN did not checkpoint"; }
grep -q "online knn-20 top-1" "$work/int.txt" && fail "the interrupted measurement printed a result"

# --- bad options and runs: one line each
expect_error "expects TRAIN:TEST" train --out "$work/bad" --online-knn 500
expect_error "online-knn (test images) must be" train --out "$work/bad" --online-knn 50:0
expect_error "eval-limit must be" train --out "$work/bad" --eval-limit 0
expect_error "not a run directory" "$sslc" report "$work/nothing"
mkdir "$work/empty"
expect_error "no metrics.jsonl" "$sslc" report "$work/empty"

# --- the report: sections, no network references, rendered by Chromium
"$sslc" report "$work/full" >"$work/report.txt"
page="$work/full/report.html"
[ -s "$page" ] || fail "no report.html"
for id in summary curves accuracy retrieval map; do
    grep -q "<section id=\"$id\"" "$page" || fail "report has no section '$id'"
done
[ "$(grep -c '<polyline' "$page")" -eq 4 ] || fail "expected 4 curves (loss, lr, images/s, online kNN)"
grep -q 'src="data:image/png;base64,' "$page" || fail "no embedded retrieval PNG"
if grep -Eiq '(src|href|xlink:href)="(https?:)?//|url\(|@import' "$page"; then
    grep -Eio '(src|href|xlink:href)="(https?:)?//[^"]*|url\([^)]*\)|@import' "$page" | head -3
    fail "the report refers to something outside the page"
fi
# --- the map's legend names the classes of data that has names (folder: its class sub-folders)
/usr/bin/python3 - "$work/pics" <<'PY'
import os, sys
from PIL import Image
for k, cls in enumerate(["ankle boot", "cat <&>"]):
    os.makedirs(f"{sys.argv[1]}/{cls}", exist_ok=True)
    for i in range(12):
        Image.new("L", (16, 16), 40 + 150 * k + i).save(f"{sys.argv[1]}/{cls}/{i}.png")
PY
"$sslc" report "$work/full" --data "folder:$work/pics" -o "$work/named.html" >/dev/null 2>&1 || fail "report on folder data"
grep -q '>ankle boot</text>' "$work/named.html" && grep -q '>cat &lt;&amp;&gt;</text>' "$work/named.html" ||
    fail "the map's legend does not name the folder's classes"
grep -q '>class [0-9]' "$work/named.html" && fail "the map's legend numbers classes that have names"
grep -q '>class 0</text>' "$page" || fail "the map's legend of unnamed (fake:) classes does not number them"
if ! command -v chromium >/dev/null; then echo "chromium is not installed: the rendering check is skipped"; exit 77; fi
# Each section alone (the others hidden), and the whole page, with name resolution off: what
# renders comes from the page itself.
shot() { # HTML PNG
    timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --host-resolver-rules="MAP * ~NOTFOUND" \
        --window-size=1000,2400 --screenshot="$2" "file://$1" >/dev/null 2>&1 || fail "chromium failed on $1"
}
for id in summary curves accuracy retrieval map; do
    sed "s|</head>|<style>section:not(#$id){display:none}body>p{display:none}</style></head>|" "$page" >"$work/only-$id.html"
done
pids=()
for id in summary curves accuracy retrieval map; do shot "$work/only-$id.html" "$work/only-$id.png" & pids+=($!); done
shot "$page" "$work/page.png" & pids+=($!)
for p in "${pids[@]}"; do wait $p || fail "a chromium run failed"; done
/usr/bin/python3 - "$work" <<'PY'
import sys
from PIL import Image
w = sys.argv[1]
def stats(path):
    im = Image.open(path).convert("RGB")
    px = list(im.getdata())
    ink = sum(1 for p in px if min(p) < 200)                                        # not white
    colour = sum(1 for p in px if max(p) - min(p) > 80)                             # saturated
    green = sum(1 for r, g, b in px if g > 140 and r < 90 and b < 110)
    red = sum(1 for r, g, b in px if r > 190 and g < 80 and b < 80)
    blue = sum(1 for r, g, b in px if b > 150 and r < 80 and 90 < g < 150)
    return im.size, ink, colour, green, red, blue
size, ink, *_ = stats(f"{w}/page.png")
assert size == (1000, 2400) and ink > 20000, ("blank page", size, ink)
need = {  # what each section must show when rendered alone
    "summary": lambda s: s[1] > 500,                         # a title and a line of text
    "curves": lambda s: s[1] > 3000 and s[5] > 1500,         # four framed charts with blue lines
    "accuracy": lambda s: s[1] > 1000,                       # the table
    "retrieval": lambda s: s[1] > 30000 and s[3] > 2000 and s[3] + s[4] > 8000,  # images in green / red frames
    "map": lambda s: s[2] > 1000,                            # coloured points
}
for sec, ok in need.items():
    s = stats(f"{w}/only-{sec}.png")
    assert ok(s), (sec, "renders too little", s)
print("report renders:", {sec: stats(f"{w}/only-{sec}.png")[1:] for sec in need})
PY
echo "report: ok"

#!/bin/bash
# sslc embed and sslc eval end to end on fake data: a plan file (random init) and a run directory
# (plan.plan + checkpoint.safetensors from `sslc step --dump`); embed's features equal
# `sslc features` (reference interpreter) on the same images; .npy files as numpy reads them;
# resizing from the size a plan trained on; eval's summary, --json and DIR/eval.json; one clear
# line and a non-zero exit for every kind of bad input.
# Args: SSLC_BINARY SOURCE_DIR
set -u
sslc=$1 src=$2
py=/usr/bin/python3
. "$(dirname "$0")/../tools/cli_checks.sh"
if ! $py -c 'import numpy' 2>/dev/null; then echo "SKIP: $py lacks numpy"; exit 77; fi

# a plan (ResNet-18 at width 1/8: BatchNorm in eval mode, residuals) and a run directory whose
# checkpoint holds trained weights and BatchNorm statistics (3 SGD steps on random images)
plan=$work/p.plan run=$work/run
"$sslc" compile simclr --backbone resnet18 --width 0.125 --image-size 16 --channels 1 --batch 8 \
  --mean 0.4 --std 0.3 -o "$plan" >/dev/null || bad "compile"
$py -c "
import sys; sys.path.insert(0, '$src/tests/oracle'); import st, numpy as np
st.save('$work/imgs.st', {'images': np.random.default_rng(1).integers(0, 256, (8, 1, 16, 16), dtype=np.uint8)})"
mkdir -p "$run" && cp "$plan" "$run/plan.plan"
"$sslc" step "$plan" --inputs "$work/imgs.st" --steps 3 --device cpu --dump "$run/checkpoint.safetensors" >/dev/null &&
  ok "run directory from compile + step --dump" || bad "step --dump"

# embed: features, labels, pixels of the same images; padding of the last batch (100 = 3*32 + 4)
"$sslc" embed "$run" --data fake:100 --split test -o "$work/f.npy" --labels "$work/l.npy" --batch 32 -q >"$work/out" &&
  grep -q "fake:100 test: 100 x 64 features" "$work/out" && ok "embed run dir" || bad "embed run dir: $(cat "$work/out" "$work/err" 2>/dev/null)"
"$sslc" embed "$run" --data fake:100 --split test -o "$work/px.npy" --features pixels -q >/dev/null && ok "embed --features pixels" || bad "embed pixels"
"$sslc" embed "$run" --data fake:100 --split test -o "$work/f7.npy" --batch 7 --device ref -q >/dev/null && ok "embed --device ref, batch 7" || bad "embed ref"
"$sslc" embed "$run" --data fake:100 --split test -o "$work/z.npy" --with-projector --batch 32 -q >/dev/null && ok "embed --with-projector" || bad "embed projector"
$py - "$work" <<'PY' && ok "npy files: v1.0 header, <f4 [N,F] C order, <i8 [N] labels" || bad "npy format"
import sys, numpy as np
w = sys.argv[1]
with open(f"{w}/f.npy", "rb") as fh:
    assert np.lib.format.read_magic(fh) == (1, 0)
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    assert shape == (100, 64) and not fortran and dtype == np.dtype("<f4"), (shape, fortran, dtype)
f, l, px = np.load(f"{w}/f.npy"), np.load(f"{w}/l.npy"), np.load(f"{w}/px.npy")
assert l.dtype == np.dtype("<i8") and l.shape == (100,) and l.min() >= 0 and l.max() <= 9, l
assert px.shape == (100, 256) and np.isfinite(f).all() and f.std() > 0
# the pixels are u8 / 255 normalized with the plan's mean 0.4, std 0.3
assert abs(px.min() - (0 - 0.4) / 0.3) < 1e-5 or px.min() > (0 - 0.4) / 0.3, px.min()
assert px.max() <= (1 - 0.4) / 0.3 + 1e-5
PY
# embed = sslc features (reference interpreter) on the same images: the normalized pixels
$py -c "
import sys; sys.path.insert(0, '$src/tests/oracle'); import st, numpy as np
st.save('$work/x.st', {'images': np.load('$work/px.npy').reshape(100, 1, 16, 16)})"
"$sslc" features "$run" --inputs "$work/x.st" -o "$work/feat.st" --with-projector >/dev/null &&
$py - "$work" "$src" <<'PY' && ok "embed (cpu) = sslc features (ref) = embed --device ref, batch 32 = batch 7 (1e-4)" || bad "embed vs features"
import sys; sys.path.insert(0, sys.argv[2] + "/tests/oracle"); import st, numpy as np
w = sys.argv[1]
ref = st.load(f"{w}/feat.st")
f, f7, z = np.load(f"{w}/f.npy"), np.load(f"{w}/f7.npy"), np.load(f"{w}/z.npy")
for name, a, b in (("features", f, ref["features"]), ("projection", z, ref["projection"]), ("ref batch 7", f7, f)):
    d = float(np.abs(a.astype(np.float64) - b).max())
    print(f"     {name}: max abs diff {d:.3g} (max |y| {float(np.abs(b).max()):.3g})")
    assert a.shape == b.shape and d <= 1e-4 * max(1.0, float(np.abs(b).max())), name
PY

# a plan trained on 24x24 images cropped to 16x16: 24x24 data is resized in the graph (bilinear),
# other sizes are refused
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --source-size 24 --channels 1 --batch 8 \
  -o "$work/s24.plan" >/dev/null
"$sslc" embed "$work/s24.plan" --data fake:20:1x24x24 --features pixels -o "$work/r.npy" -q >/dev/null &&
  $py -c "import numpy as np; assert np.load('$work/r.npy').shape == (20, 256)" && ok "embed resizes 24x24 to 16x16" || bad "resize"
expect_error "embed: size the plan did not train on" "has 20x20 images, the plan takes 16x16 (or 24x24" \
  "$sslc" embed "$work/s24.plan" --data fake:20:1x20x20 -o "$work/r.npy"
expect_error "embed: size mismatch" "has 24x24 images, the plan takes 16x16$" \
  "$sslc" embed "$plan" --data fake:20:1x24x24 -o "$work/r.npy"

# eval: a plan file (random init, no eval.json beside it), a run directory (eval.json), --json
"$sslc" eval "$plan" --data fake:300 -q >"$work/out" 2>"$work/err" &&
  grep -Eq "^linear top-1 [0-9.]+ %  knn-20 top-1 [0-9.]+ %$" "$work/out" && [ ! -e "$work/eval.json" ] &&
  ok "eval plan file: both by default ($(cat "$work/out"))" || bad "eval plan: $(cat "$work/out" "$work/err")"
"$sslc" eval "$run" --data fake:300 --knn 5 --json -q >"$work/out" 2>"$work/err" &&
$py - "$work" <<'PY' && ok "eval --knn 5 --json on a run dir: one JSON object, DIR/eval.json" || bad "eval --json: $(cat "$work/out" "$work/err")"
import json, sys
w = sys.argv[1]
lines = open(f"{w}/out").read().splitlines()
assert len(lines) == 1, lines
j = json.loads(lines[0])
assert j["knn_k"] == 5 and 0 <= j["knn_top1"] <= 100 and "linear_top1" not in j, j
assert j["n_train"] == 300 and j["n_test"] == 300 and j["dim"] == 64 and j["classes"] == 10, j
assert json.load(open(f"{w}/run/eval.json")) == j
print("     " + lines[0])
PY
"$sslc" eval "$plan" --data fake:300 --features pixels --linear -q >"$work/out" 2>/dev/null &&
  grep -Eq "^linear top-1 [0-9.]+ %$" "$work/out" && ok "eval --features pixels --linear ($(cat "$work/out"))" || bad "eval pixels"
"$sslc" eval "$plan" --data fake:300 --features pixels --knn 10 --linear >"$work/out" 2>"$work/err" &&
  grep -q "knn-10 top-1" "$work/out" && grep -q "linear probe: weight decay" "$work/err" &&
  grep -q "eval: 300 train / 300 test images, 256 features" "$work/err" && ok "eval progress and summary on stderr" || bad "eval verbose: $(cat "$work/err")"

# sslc train ends with the evaluation of its run directory
"$sslc" train simclr --backbone convnet --width 0.25 --batch 8 --data fake:64:1x16x16 --steps 2 --knn 5 \
  --out "$work/tr" >"$work/out" 2>"$work/err" &&
  grep -Eq "^linear top-1 [0-9.]+ %  knn-5 top-1 [0-9.]+ %" "$work/out" && [ -f "$work/tr/eval.json" ] &&
  ok "train ends with eval ($(grep 'top-1' "$work/out"))" || bad "train + eval: $(tail -3 "$work/out" "$work/err")"

# bad input
expect_error "eval: missing source" "no-such.plan" "$sslc" eval "$work/no-such.plan" --data fake:10
expect_error "eval: missing data" "missing --data" "$sslc" eval "$plan"
mkdir -p "$work/empty" "$work/noweights" && cp "$plan" "$work/noweights/plan.plan"
expect_error "eval: directory without a plan" "no plan.plan in this directory" "$sslc" eval "$work/empty" --data fake:10
expect_error "embed: directory without a checkpoint" "no checkpoint.safetensors" "$sslc" embed "$work/noweights" --data fake:10 -o "$work/x.npy"
expect_error "eval: --knn 0" "--knn must be in" "$sslc" eval "$plan" --data fake:10 --knn 0
expect_error "eval: --knn abc" "--knn expects an integer" "$sslc" eval "$plan" --data fake:10 --knn abc
expect_error "eval: k above the train set" "k = 50 must be between 1 and the 20 training samples" \
  "$sslc" eval "$plan" --data fake:20 --knn 50 -q
expect_error "eval: bad --features" "unknown kind 'rgb'" "$sslc" eval "$plan" --data fake:10 --features rgb
expect_error "eval: embed's option" "eval: unknown option '-o'" "$sslc" eval "$plan" --data fake:10 -o x.npy
expect_error "embed: missing -o" "missing -o" "$sslc" embed "$plan" --data fake:10
expect_error "embed: bad split" "unknown split 'val'" "$sslc" embed "$plan" --data fake:10 --split val -o "$work/x.npy"
expect_error "embed: missing dataset dir" "fashion-mnist\|no-such-dir" "$sslc" embed "$plan" --data fashion-mnist:/no-such-dir -o "$work/x.npy"
expect_error "embed: unwritable output" "/no-such-dir/x.npy" "$sslc" embed "$plan" --data fake:10 -o /no-such-dir/x.npy -q
$py -c "
import sys; sys.path.insert(0, '$src/tests/oracle'); import st
t = st.load('$run/checkpoint.safetensors'); del t['backbone.layer1.0.conv1.weight']; st.save('$work/partial.st', t)"
expect_error "eval: checkpoint without a tensor" "no tensor 'backbone.layer1.0.conv1.weight'" \
  "$sslc" eval "$plan" --params "$work/partial.st" --data fake:10 -q

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

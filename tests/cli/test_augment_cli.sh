#!/bin/bash
# sslc compile with augmentation (the default) and sslc step on an `images` input: the plan
# records each view's pipeline, steps are reproducible from the plan's seed, fixed aug.* inputs
# are honoured, and bad options end in one line. Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
fail() { echo "FAIL: $*"; exit 1; }
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 4 \
    --source-size 20 -o "$work/a.plan" >/dev/null
"$sslc" inspect "$work/a.plan" > "$work/inspect.txt"
grep -q "augment *simclr" "$work/inspect.txt" || fail "augment option not recorded"
grep -q "aug.view.1 *crop(scale=0.2:1" "$work/inspect.txt" || fail "view pipeline not recorded"
grep -q "aug.std *0.226" "$work/inspect.txt" || fail "1-channel std"
/usr/bin/python3 - "$src/tests/oracle" "$work" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, st
rng = np.random.default_rng(0)
st.save(sys.argv[2] + "/x.st", {"images": rng.integers(0, 256, (4, 1, 20, 20)).astype(np.uint8)})
PY
"$sslc" step "$work/a.plan" --inputs "$work/x.st" --steps 2 --dump "$work/d1.st"
"$sslc" step "$work/a.plan" --inputs "$work/x.st" --steps 2 --dump "$work/d2.st"
cmp -s "$work/d1.st" "$work/d2.st" || fail "two runs of the same plan differ"
/usr/bin/python3 - "$src/tests/oracle" "$work" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, st
d = st.load(sys.argv[2] + "/d1.st")
l0, l1 = float(d["loss.0"]), float(d["loss.1"])
assert np.isfinite(l0) and np.isfinite(l1) and l0 != l1, (l0, l1)  # new augmentation each step
x = st.load(sys.argv[2] + "/x.st")
x["aug.0.box"] = np.array([[0, 0, 20, 20]] * 4, np.int32)
st.save(sys.argv[2] + "/partial.st", x)
for v in (0, 1):  # fixed, identity-ish augmentation
    x[f"aug.{v}.box"] = np.array([[2, 2, 16, 16]] * 4, np.int32)
    x[f"aug.{v}.flip"] = np.zeros(4, np.float32)
    x[f"aug.{v}.jitter"] = np.tile(np.array([1, 1, 1, 0], np.float32), (4, 1))
    x[f"aug.{v}.order"] = -np.ones((4, 4), np.int32)
    x[f"aug.{v}.gray"] = np.zeros(4, np.float32)
    x[f"aug.{v}.sigma"] = np.zeros(4, np.float32)
st.save(sys.argv[2] + "/fixed.st", x)
PY
"$sslc" step "$work/a.plan" --inputs "$work/fixed.st" --steps 2 --dump "$work/d3.st"
/usr/bin/python3 - "$src/tests/oracle" "$work" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import st
d = st.load(sys.argv[2] + "/d3.st")
assert d["loss.0"] != d["loss.1"]  # parameters moved; fixed views (same both steps)
PY
err=$("$sslc" step "$work/a.plan" --inputs "$work/partial.st" --dump "$work/d4.st" 2>&1) && fail "partial aug inputs accepted"
echo "$err" | grep -q "gives 1 of the plan's 12 aug" || fail "partial aug message: $err"
err=$("$sslc" compile simclr --augment zoom -o "$work/z.plan" 2>&1) && fail "--augment zoom accepted"
[ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -q "choose one of: default, none, barlow_twins" || fail "$err"
err=$("$sslc" compile simclr --channels 1 --std 0.2,0.3,0.4 -o "$work/z.plan" 2>&1) && fail "3 stds for 1 channel accepted"
echo "$err" | grep -q "give 1 value or 1" || fail "$err"
err=$("$sslc" compile simclr --source-size 0 -o "$work/z.plan" 2>&1) && fail "--source-size 0 accepted"
"$sslc" compile simclr --augment none --backbone convnet --batch 2 -o "$work/n.plan" >/dev/null
"$sslc" inspect "$work/n.plan" | grep -q "augment *none" || fail "augment none"
"$sslc" compile simclr --augment dino --backbone convnet --batch 2 -o "$work/d.plan" >/dev/null
# sslc run feeds augmented plans from the loader: the cpu backend and the reference agree
"$sslc" run "$work/a.plan" --data fake:64 --steps 2 --device ref --seed 3 | grep "^step" | sed 's/  [0-9.]* img.*//' > "$work/ref.txt"
"$sslc" run "$work/a.plan" --data fake:64 --steps 2 --device cpu --seed 3 | grep "^step" | sed 's/  [0-9.]* img.*//' > "$work/cpu.txt"
[ "$(wc -l < "$work/ref.txt")" = 2 ] && cmp -s "$work/ref.txt" "$work/cpu.txt" || fail "run: cpu and ref differ: $(cat "$work/ref.txt" "$work/cpu.txt")"
err=$("$sslc" run "$work/a.plan" --data fake:64:1x28x28 --steps 1 2>&1) && fail "28x28 data for a 20x20 plan accepted"
echo "$err" | grep -q "compile with --source-size 28x28" || fail "$err"
err=$("$sslc" run "$work/n.plan" --data fashion-mnist --steps 1 2>&1) && fail "real data for a plan without augmentation accepted"
echo "$err" | grep -q "only fake:N" || fail "$err"
# every registered method compiles with its own recipe and trains a step from images
# (MAE, ViT-only, on a one-block vit-tiny)
for m in $("$sslc" methods | grep -o '^[a-z_0-9]*$'); do
  bb=(--backbone convnet --width 0.25); [ "$m" = mae ] && bb=(--backbone vit-tiny --width 0.125 --depth 1)
  "$sslc" compile "$m" "${bb[@]}" --image-size 16 --batch 8 -o "$work/$m.plan" >/dev/null ||
    fail "compile $m with its recipe"
  "$sslc" run "$work/$m.plan" --data fake:32 --steps 1 --device ref >/dev/null || fail "run $m (ref)"
done
"$sslc" run "$work/byol.plan" --data fake:32 --steps 1 --device cpu >/dev/null || fail "run byol (cpu)"
echo "ok"

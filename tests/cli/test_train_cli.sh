#!/bin/bash
# Runs, checkpoints and resume (issue 5): N steps + --resume for N more is bit-identical to 2N
# uninterrupted steps (also after Ctrl-C); a checkpoint write killed before its rename leaves the
# previous checkpoint loadable; a corrupted, truncated or foreign checkpoint is refused with one
# line; a NaN loss stops the run naming the step and keeps the last good checkpoint; metrics are
# JSON lines; `sslc train` compiles into a run directory. Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$(realpath "$1"); src=$(realpath "$2")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
# one line on stderr, a non-zero exit, and the line matches $1
expect_error() {
    local pat=$1; shift
    set +e; "$@" >"$work/out.txt" 2>"$work/err.txt"; local rc=$?; set -e
    [ $rc -ne 0 ] || fail "expected an error from: $*"
    [ $rc -lt 128 ] || fail "crashed (exit $rc): $*"
    [ "$(wc -l <"$work/err.txt")" -eq 1 ] || { cat "$work/err.txt"; fail "expected one error line from: $*"; }
    grep -q -- "$pat" "$work/err.txt" || { cat "$work/err.txt"; fail "error does not match '$pat': $*"; }
}
py() { /usr/bin/python3 - "$src/tests/oracle" "$work" "$@"; }

"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    --optimizer adamw --warmup-epochs 0.5 -o "$work/p.plan" >/dev/null
data=fake:64:1x16x16  # 8 steps an epoch
run() { "$sslc" run "$work/p.plan" --data $data --seed 3 "$@" >/dev/null; }

# --- resume is bit-exact (schedules span the planned total: 2 epochs = 16 steps)
run --epochs 2 --out "$work/full"
run --epochs 2 --out "$work/half" --stop-after 5
"$sslc" run --resume "$work/half" >/dev/null
cmp -s "$work/full/checkpoint.safetensors" "$work/half/checkpoint.safetensors" || fail "resume is not bit-exact"
cmp -s "$work/p.plan" "$work/full/plan.plan" || fail "the run directory's plan differs from the plan"
py <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
import st
for run in ("full", "half"):
    lines = [json.loads(l) for l in open(f"{sys.argv[2]}/{run}/metrics.jsonl")]
    steps = [l["step"] for l in lines]
    assert steps == sorted(steps) and steps[-1] == 16, (run, steps)
    assert all(k in lines[0] for k in ("step", "epoch", "loss", "lr", "img_per_s", "elapsed_s")), lines[0]
d = st.load(sys.argv[2] + "/full/checkpoint.safetensors")
assert "backbone.features.0.weight" in d and any(k.startswith("opt.exp_avg.") for k in d), sorted(d)[:5]
PY

# --- export and embed take the run directory or its checkpoint file
"$sslc" export "$work/full/checkpoint.safetensors" -o "$work/a.onnx" >/dev/null
"$sslc" export "$work/full" -o "$work/b.onnx" >/dev/null
cmp -s "$work/a.onnx" "$work/b.onnx" || fail "export of a checkpoint file differs from its run directory's"
"$sslc" embed "$work/full/checkpoint.safetensors" --data fake:16:1x16x16 -o "$work/f.npy" --quiet >/dev/null
cp "$work/full/checkpoint.safetensors" "$work/lone.safetensors"
expect_error "no plan.plan beside it" "$sslc" export "$work/lone.safetensors" -o "$work/c.onnx"

# --- Ctrl-C: checkpoint, exit 130, resume continues exactly. A constant learning rate makes the
# trajectory independent of the planned total, so the run can be long enough never to finish
# before the signal, whatever the machine's speed: interrupted at step k, resumed to k+6, it must
# equal k+6 uninterrupted steps.
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    --optimizer adamw --lr-schedule constant -o "$work/c.plan" >/dev/null
"$sslc" run "$work/c.plan" --data fake:4096:1x16x16 --seed 3 --steps 1000000 --out "$work/int" --log-every 1 \
    >"$work/int.txt" 2>&1 &
pid=$!
for i in $(seq 1 600); do
    [ -s "$work/int/metrics.jsonl" ] && break
    sleep 0.1
done
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 130 ] || { cat "$work/int.txt"; fail "Ctrl-C: exit $rc, expected 130"; }
k=$(sed -n 's/^interrupted (Ctrl-C) at step \([0-9]*\);.*/\1/p' "$work/int.txt")
[ -n "$k" ] || { cat "$work/int.txt"; fail "Ctrl-C: no message"; }
"$sslc" run --resume "$work/int" --steps $((k + 6)) >/dev/null
"$sslc" run "$work/c.plan" --data fake:4096:1x16x16 --seed 3 --steps $((k + 6)) --out "$work/int_ref" >/dev/null
cmp -s "$work/int/checkpoint.safetensors" "$work/int_ref/checkpoint.safetensors" || fail "resume after Ctrl-C differs"
rm -rf "$work/int" "$work/int_ref"

# --- a crash between the checkpoint's write and its rename leaves the previous checkpoint
run --steps 6 --out "$work/crash" --checkpoint-every 2 --stop-after 4
cp "$work/crash/checkpoint.safetensors" "$work/ck4"
set +e
SSLC_FAULT_BEFORE_RENAME=checkpoint.safetensors "$sslc" run --resume "$work/crash" >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 99 ] || fail "fault injection did not fire (exit $rc)"
cmp -s "$work/ck4" "$work/crash/checkpoint.safetensors" || fail "an interrupted write replaced the checkpoint"
ls "$work/crash" | grep -q "checkpoint.safetensors.tmp" || fail "no temporary file left by the crash"
"$sslc" run --resume "$work/crash" >/dev/null
ls "$work/crash" | grep -q "tmp" && fail "stale temporary file not removed"
run --steps 6 --out "$work/crash_ref"
cmp -s "$work/crash_ref/checkpoint.safetensors" "$work/crash/checkpoint.safetensors" || fail "resume after a crash differs"

# --- corrupted / truncated / foreign checkpoints are refused with one line
mkdir -p "$work/bad"; cp "$work/p.plan" "$work/bad/plan.plan"
cp "$work/ck4" "$work/bad/checkpoint.safetensors"
size=$(stat -c %s "$work/bad/checkpoint.safetensors")
printf '\x55' | dd of="$work/bad/checkpoint.safetensors" bs=1 seek=$((size - 100)) conv=notrunc 2>/dev/null
expect_error "corrupted" "$sslc" run --resume "$work/bad"
head -c $((size / 2)) "$work/ck4" >"$work/bad/checkpoint.safetensors"
expect_error "checkpoint.safetensors" "$sslc" run --resume "$work/bad"
py <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, st
st.save(sys.argv[2] + "/bad/checkpoint.safetensors", {"x": np.zeros(3, np.float32)})
PY
expect_error "not an sslc checkpoint" "$sslc" run --resume "$work/bad"
expect_error "already holds a run" "$sslc" run "$work/p.plan" --data $data --out "$work/full"
expect_error "no checkpoint to resume" "$sslc" run --resume "$work"
expect_error "nothing to do" "$sslc" run --resume "$work/full"
expect_error "run used --data" "$sslc" run --resume "$work/half" --data fake:128:1x16x16 --steps 20
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 --seed 1 \
    -o "$work/other.plan" >/dev/null
rm -rf "$work/other"; mkdir "$work/other"; cp "$work/other.plan" "$work/other/plan.plan"
cp "$work/full/checkpoint.safetensors" "$work/other/"
expect_error "another plan" "$sslc" run --resume "$work/other" --steps 20

# --- a NaN loss stops the run, names the step, keeps the last good checkpoint
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    --optimizer sgd --lr 1e30 --lr-schedule constant -o "$work/nan.plan" >/dev/null
expect_error "loss became .* at step [0-9]* (epoch 1); stopped. The last good checkpoint is step" \
    "$sslc" run "$work/nan.plan" --data $data --steps 8 --out "$work/nan" --checkpoint-every 1
py <<'PY'
import json, struct, sys
f = open(sys.argv[2] + "/nan/checkpoint.safetensors", "rb")
n = struct.unpack("<Q", f.read(8))[0]
meta = json.loads(f.read(n))["__metadata__"]
assert int(meta["step"]) >= 1 and meta["format"] == "sslc-checkpoint", meta
PY
"$sslc" export "$work/nan" -o "$work/nan.onnx" >/dev/null 2>&1 || true  # the good checkpoint stays usable

# --- sslc train: compile + run into a run directory; bad data is one line
(cd "$work" && "$sslc" train simclr --backbone convnet --width 0.25 --batch 8 --data $data --steps 3 --no-eval >/dev/null)
[ -f "$work/runs/simclr/checkpoint.safetensors" ] && [ -f "$work/runs/simclr/plan.plan" ] || fail "train: no run directory"
(cd "$work" && "$sslc" train simclr --backbone convnet --width 0.25 --batch 8 --data $data --steps 3 --no-eval >/dev/null)
[ -f "$work/runs/simclr-2/checkpoint.safetensors" ] || fail "train: a second run did not go to runs/simclr-2"
expect_error "fashion-mnist\|no such\|cannot open" "$sslc" train simclr --data fashion-mnist:/nonexistent --out "$work/x"
expect_error "train: which method" "$sslc" train --data $data
expect_error "unknown method" "$sslc" train simclrr --data $data --out "$work/y"
expect_error "was compiled with --batch 8, this command line gives 4; drop --batch" "$sslc" train simclr --resume --out "$work/full" --batch 4
echo "train cli: all checks passed"

#!/bin/bash
# Gradient buckets that overlap the backward pass (SimCLR on a ResNet-18, 2 ranks, 8 buckets):
# - sslc inspect: the overlapped plan starts buckets before the last local gradient is computed
#   (the backward pass) and waits for each later; SSLC_DP_OVERLAP=0 gives blocking buckets, and a
#   malformed SSLC_DP_OVERLAP is refused in one line;
# - 2 ranks x 2 steps overlapped and blocking end bit-identical (every parameter, state and
#   momentum tensor). SSLC_CONV_ALGO=direct on both: with the default algorithm choice the cpu
#   backend may take direct over Winograd for a layer when the schedule's memory profile
#   changes (its workspace budget), which rounds differently (docs/DATA_PARALLEL.md);
# - the SSLC_TRACE of the overlapped run holds one "in flight" span per bucket and step, and
#   kernel spans inside them: the communication is pending while kernels run.
# Args: SSLC_BINARY SOURCE_DIR MPIRUN...
set -e
sslc=$1; shift 2
mpirun=("$@")
py=/usr/bin/python3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 SSLC_CONV_ALGO=direct
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
opts=(simclr --backbone resnet18 --image-size 16 --batch 4 --set projection_dim=16 --ranks 2)
"$sslc" compile "${opts[@]}" -o ov.plan >/dev/null
SSLC_DP_OVERLAP=0 "$sslc" compile "${opts[@]}" -o bl.plan >/dev/null
if SSLC_DP_OVERLAP=yes "$sslc" compile "${opts[@]}" -o x.plan 2>bad.err >/dev/null; then fail "SSLC_DP_OVERLAP=yes accepted"; fi
[ "$(wc -l <bad.err)" = 1 ] && grep -q "SSLC_DP_OVERLAP=yes: set it to 1" bad.err || fail "refusal: $(cat bad.err)"

"$sslc" inspect ov.plan >ov.txt
line=$(grep "gradient buckets started at launch" ov.txt) || fail "no start/wait launches: $(cat ov.txt)"
"$py" - "$line" <<'PY' || fail "the overlapped schedule: $line"
import re, sys
l = sys.argv[1]
starts = [int(x) for x in re.search(r"started at launch ([\d, ]+) and", l).group(1).split(",")]
waits = [int(x) for x in re.search(r"waited for at launch ([\d, ]+) of", l).group(1).split(",")]
last = int(re.search(r"computed at launch (\d+)", l).group(1))
n = int(re.search(r": (\d+) of \d+ buckets overlap", l).group(1))
assert len(starts) == len(waits) == 8, (starts, waits)
assert all(s < w for s, w in zip(starts, waits)), "a wait before its start"
assert n == sum(s < last for s in starts) and n >= len(starts) // 2, f"{n} buckets start before the last gradient"
PY
echo "ok   inspect: ${line#gradient buckets }"
"$sslc" inspect bl.plan | grep -q "gradient buckets issued at launch .*(blocking)" || fail "SSLC_DP_OVERLAP=0 is not blocking"
echo "ok   SSLC_DP_OVERLAP=0: blocking buckets; SSLC_DP_OVERLAP=yes refused: $(cat bad.err)"

SSLC_TRACE=t.json "${mpirun[@]}" "$sslc" run ov.plan --data fake:64 --steps 2 --out ov >ov.log
"${mpirun[@]}" "$sslc" run bl.plan --data fake:64 --steps 2 --out bl >bl.log
"$py" - ov/checkpoint.safetensors bl/checkpoint.safetensors <<'PY' || fail "overlapped and blocking buckets differ"
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert sorted(a) == sorted(b), "different tensors"
bad = [k for k in a if a[k] != b[k]]
assert not bad, f"{len(bad)} of {len(a)} tensors differ: {bad[:4]}"
print(f"ok   2 ranks x 2 steps: overlapped == blocking bit for bit ({len(a)} tensors)")
PY

for f in t.json t.json.rank1; do
  "$py" - "$f" <<'PY' || fail "trace $f"
import json, sys
ev = [e for e in json.load(open(sys.argv[1]))["traceEvents"] if e.get("ph") == "X"]
fly = [e for e in ev if e["cat"] == "in flight"]
kern = [e for e in ev if e["cat"] == "kernel"]
assert len(fly) == 8 * 2, f"{len(fly)} in-flight spans, 16 expected"
inside = sum(any(f["ts"] < k["ts"] and k["ts"] + k["dur"] < f["ts"] + f["dur"] for f in fly) for k in kern)
assert inside > 0, "no kernel runs while a bucket is in flight"
print(f"ok   {sys.argv[1]}: {len(fly)} in-flight spans, {inside} kernel spans inside them")
PY
done

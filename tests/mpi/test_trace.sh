#!/bin/bash
# SSLC_TRACE=FILE writes a Chrome trace of the training steps:
# - one rank: the file parses as JSON, holds kernel spans, library (oneDNN convolution) spans,
#   one span per training step enclosing that step's op spans, all with pid 0;
# - two ranks under mpirun: rank 0 writes FILE and rank 1 FILE.rank1 (pid 1), each with the
#   collectives (AllReduce among them) as spans, the same schedule on both ranks;
# - an unwritable SSLC_TRACE path is refused in one line naming the variable, non-zero exit;
# - without SSLC_TRACE no trace file appears.
# Args: SSLC_BINARY SOURCE_DIR MPIRUN...
set -e
sslc=$1; shift 2
mpirun=("$@")
py=/usr/bin/python3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
opts=(--backbone convnet --width 0.25 --image-size 16 --batch 4 --set projection_dim=16)
"$sslc" compile simclr "${opts[@]}" -o sc1.plan >/dev/null
"$sslc" compile simclr "${opts[@]}" --ranks 2 -o sc2.plan >/dev/null

cat >check.py <<'PY'
import json, sys
path, rank, steps, want_collectives = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
ev = json.load(open(path))["traceEvents"]
spans = [e for e in ev if e.get("ph") == "X"]
def fail(msg): sys.exit(f"FAIL {path}: {msg}")
if any(e["pid"] != rank for e in ev): fail(f"an event with a pid other than the rank {rank}")
if any(e["dur"] < 0 for e in spans): fail("a span of negative duration")
cats = {}
for e in spans: cats.setdefault(e["cat"], []).append(e)
for c in ("kernel", "library", "step"):
    if c not in cats: fail(f"no {c} spans (categories: {sorted(cats)})")
if not any(e["name"] == "Conv" for e in cats["library"]): fail("no oneDNN convolution among the library spans")
if len(cats["step"]) != steps: fail(f"{len(cats['step'])} training-step spans, {steps} expected")
if want_collectives:
    names = {e["name"] for e in cats.get("collective", [])}
    if "AllReduce" not in names: fail(f"no AllReduce span (collectives: {sorted(names)})")
elif "collective" in cats: fail("collective spans in a one-rank job")
ops = [e for e in spans if e["cat"] != "step"]
for st in cats["step"]:
    run = st["args"]["run"]
    mine = sorted((e for e in ops if e["args"]["run"] == run), key=lambda e: e["args"]["step"])
    if not mine: fail(f"training step {run} has no op spans")
    lo, hi = st["ts"], st["ts"] + st["dur"]
    if any(e["ts"] < lo - 1 or e["ts"] + e["dur"] > hi + 1 for e in mine): fail(f"an op outside training step {run}")
    if any(b["ts"] < a["ts"] for a, b in zip(mine, mine[1:])): fail(f"op spans of step {run} out of schedule order")
print(f"ok   {path}: {len(spans)} spans, " + ", ".join(f"{len(v)} {k}" for k, v in sorted(cats.items())))
PY

SSLC_TRACE=t1.json "$sslc" run sc1.plan --data fake:64 --steps 2 --out one >one.log
"$py" check.py t1.json 0 2 0

SSLC_TRACE=t2.json "${mpirun[@]}" "$sslc" run sc2.plan --data fake:64 --steps 3 --out two >two.log
"$py" check.py t2.json 0 3 1
"$py" check.py t2.json.rank1 1 3 1
"$py" - <<'PY' || fail "the ranks' traces differ in their schedules"
import json
a, b = ([(e["name"], e["args"]["step"]) for e in json.load(open(f))["traceEvents"] if e.get("ph") == "X"]
        for f in ("t2.json", "t2.json.rank1"))
assert a == b
PY
echo "ok   both ranks traced the same schedule"

if SSLC_TRACE=/nonexistent-dir/t.json "$sslc" run sc1.plan --data fake:64 --steps 1 --out bad 2>bad.err >/dev/null; then
  fail "an unwritable SSLC_TRACE was accepted"
fi
[ "$(wc -l <bad.err)" = 1 ] && grep -q "SSLC_TRACE: cannot write /nonexistent-dir/t.json" bad.err || fail "refusal: $(cat bad.err)"
echo "ok   unwritable trace refused: $(cat bad.err)"

"$sslc" run sc1.plan --data fake:64 --steps 1 --out plain >/dev/null
[ -z "$(ls ./*.json* 2>/dev/null | grep -v '^./t[12]\.json')" ] || fail "a trace file without SSLC_TRACE"
echo "ok   no trace without SSLC_TRACE"

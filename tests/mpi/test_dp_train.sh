#!/bin/bash
# Data-parallel training runs under mpirun -np 2 (SimCLR with its augmentation on fake data):
# - a 2-rank run stopped after 3 steps and resumed on 2 ranks ends bit-identical to one run of 6;
# - resuming it on 1 rank is refused in one line naming both counts;
# - the run directory holds one plan, one checkpoint, one metrics file (rank 0 writes);
# - a rank killed with SIGKILL ends the job in < 60 s with a message naming the rank, and the
#   last checkpoint stays loadable (a resume from it runs);
# - a rank stopped with SIGSTOP (hanging, not dead) ends the job after SSLC_COMM_TIMEOUT=3 s with a
#   message naming it, the last checkpoint resumes; a malformed SSLC_COMM_TIMEOUT is refused;
# - sslc train under mpirun compiles for the job's size (ranks 2 in the plan);
# - --ranks 0 is refused in one line;
# - sslc inspect's bytes per step match what the communicator counts in sslc step.
# Args: SSLC_BINARY SOURCE_DIR MPIRUN...
set -e
sslc=$1; shift 2
mpirun=("$@")
job=; work=$(mktemp -d); trap 'if [ -n "$job" ]; then kill $job 2>/dev/null || true; fi; rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
if "$sslc" compile simclr --ranks 0 -o m.plan 2>r0.err; then fail "--ranks 0 accepted"; fi
grep -q -- "--ranks" r0.err || fail "--ranks 0: $(cat r0.err)"
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --batch 4 --set projection_dim=16 --ranks 2 \
  --sync-bn -o sc2.plan >/dev/null

"${mpirun[@]}" "$sslc" run sc2.plan --data fake:64 --steps 6 --out whole >whole.log
"${mpirun[@]}" "$sslc" run sc2.plan --data fake:64 --steps 6 --out split --stop-after 3 >split1.log
"${mpirun[@]}" "$sslc" run --resume split >split2.log
cmp whole/checkpoint.safetensors split/checkpoint.safetensors || fail "stop + resume on 2 ranks is not bit-identical"
grep -q "data-parallel: 2 ranks x batch 4 = global batch 8" whole.log || fail "no global batch line: $(cat whole.log)"
[ "$(grep -c '"step":' whole/metrics.jsonl)" = 6 ] || fail "metrics.jsonl: $(cat whole/metrics.jsonl)"
[ "$(grep -c '^step ' whole.log)" = 6 ] || fail "one progress line per step expected (rank 0 alone prints): $(cat whole.log)"
echo "ok   2-rank stop + resume is bit-identical"

if "$sslc" run --resume split --steps 8 2>one.err; then fail "a 2-rank run resumed on 1 rank"; fi
[ "$(wc -l <one.err)" = 1 ] && grep -q "built for 2 ranks and this job has 1" one.err || fail "refusal: $(cat one.err)"
echo "ok   resume on another rank count refused: $(cat one.err)"

# a rank that dies: the job ends, bounded
"${mpirun[@]}" "$sslc" run sc2.plan --data fake:64 --steps 1000000 --out killed --checkpoint-every 8 \
  --log-every 100000 >killed.log 2>&1 &
job=$!
for _ in $(seq 100); do [ -f killed/checkpoint.safetensors ] && break; sleep 0.1; done
[ -f killed/checkpoint.safetensors ] || fail "no checkpoint before the kill: $(cat killed.log)"
victim=$(pgrep -P "$job" -f "sslc run sc2.plan" | tail -1)
[ -n "$victim" ] || victim=$(pgrep -f "$sslc run sc2.plan --data fake:64 --steps 1000000" | tail -1)
t0=$(date +%s)
kill -9 "$victim"
for _ in $(seq 600); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
if kill -0 $job 2>/dev/null; then fail "the job still runs 60 s after a rank died"; fi
wait $job && fail "the job ended with status 0 after a rank died" || true
dt=$(( $(date +%s) - t0 ))
grep -q "rank 1.*signal 9\|rank 0.*signal 9" killed.log || fail "no message naming the dead rank: $(tail -5 killed.log)"
echo "ok   a killed rank ends the job in ${dt} s: $(grep 'signal 9' killed.log | head -1)"
"${mpirun[@]}" "$sslc" run --resume killed --stop-after 2 >resume.log || fail "the last checkpoint does not resume"
grep -q "resuming killed at step" resume.log || fail "resume: $(cat resume.log)"
echo "ok   the last checkpoint resumes: $(grep 'resuming' resume.log)"

# a rank that hangs without dying (SIGSTOP): the other ends the job after SSLC_COMM_TIMEOUT
SSLC_COMM_TIMEOUT=3 "${mpirun[@]}" "$sslc" run sc2.plan --data fake:64 --steps 1000000 --out hung --checkpoint-every 8 \
  --log-every 100000 >hung.log 2>&1 &
job=$!
for _ in $(seq 100); do [ -f hung/checkpoint.safetensors ] && break; sleep 0.1; done
[ -f hung/checkpoint.safetensors ] || fail "no checkpoint before the stop: $(cat hung.log)"
victim=$(pgrep -P "$job" -f "sslc run sc2.plan" | tail -1)
[ -n "$victim" ] || fail "no rank process under mpirun"
vrank=$(tr '\0' '\n' <"/proc/$victim/environ" | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
t0=$(date +%s)
kill -STOP "$victim"
for _ in $(seq 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
if kill -0 $job 2>/dev/null; then kill -CONT "$victim"; fail "the job still runs 30 s after a rank stopped (timeout 3 s)"; fi
wait $job && fail "the job ended with status 0 after a rank hung" || true
job=
dt=$(( $(date +%s) - t0 ))
grep -q "sslc: rank $((1 - vrank)): .* waited 3 s for rank $vrank, which hangs" hung.log ||
  fail "no message naming the stopped rank $vrank: $(grep sslc: hung.log)"
if grep -q "sslc: rank $vrank: .* which hangs" hung.log; then fail "the stopped rank blamed another: $(grep sslc: hung.log)"; fi
echo "ok   a stopped rank ends the job in ${dt} s: $(grep 'which hangs' hung.log)"
"${mpirun[@]}" "$sslc" run --resume hung --stop-after 2 >hresume.log || fail "the last checkpoint after a hang does not resume"
echo "ok   the last checkpoint after a hang resumes"
if SSLC_COMM_TIMEOUT=soon "${mpirun[@]}" "$sslc" run sc2.plan --data fake:64 --steps 1 --out badto >badto.log 2>&1; then
  fail "SSLC_COMM_TIMEOUT=soon accepted"
fi
grep -q "SSLC_COMM_TIMEOUT=soon is not a number of seconds" badto.log || fail "bad timeout: $(cat badto.log)"
echo "ok   a bad SSLC_COMM_TIMEOUT is refused"

"${mpirun[@]}" "$sslc" train simsiam --backbone convnet --width 0.125 --data fake:32 --steps 2 --batch 4 \
  --set projection_dim=16 --set hidden_dim_proj=16 --set hidden_dim_pred=8 --no-eval --out tr >train.log
"$sslc" inspect tr/plan.plan | grep -q "ranks *2" || fail "sslc train under mpirun -np 2 did not build for 2 ranks"
echo "ok   sslc train under mpirun builds for the job's size"

# communication: sslc inspect's count from the plan = what the communicator counted in sslc step
"$sslc" inspect sc2.plan | grep "communication per step" >comm.txt || fail "sslc inspect prints no communication line"
grep -q "1 gradient buckets send .* (1.00 x the bound)" comm.txt || fail "gradient buckets vs the ring bound: $(cat comm.txt)"
/usr/bin/python3 -c "
import numpy as np, sys
sys.path.insert(0, '$(dirname "$0")/../oracle')
import st
r = np.random.default_rng(1)
st.save('x.safetensors', {'images': r.integers(0, 255, (8, 3, 16, 16), dtype=np.uint8)})
"
"${mpirun[@]}" "$sslc" step sc2.plan --inputs x.safetensors --steps 2 --dump d.safetensors --device cpu >step.log
measured=$(sed -n 's/.*rank 0 sent \([0-9]*\) bytes per step.*/\1/p' step.log)
planned=$(sed -n 's/.*: \([0-9.]*\) MiB sent by.*/\1/p' comm.txt)
/usr/bin/python3 -c "import sys; m, p = $measured / 1048576, $planned; sys.exit(0 if abs(m - p) < 0.0006 else 1)" ||
  fail "measured $measured bytes per step, sslc inspect plans $planned MiB"
echo "ok   bytes sent per step: measured $measured, planned $planned MiB ($(cat comm.txt | cut -c1-80)...)"

# MoCo with shuffle-BN (each step's permutation of the global batch drawn on the host from the
# run's seed and the step) and MAE (masks keyed by the global sample index) on 2 ranks: a run
# stopped after 3 steps and resumed ends bit-identical to one run of 6 (queue, EMA encoder too)
"$sslc" compile moco --backbone convnet --width 0.25 --image-size 16 --batch 4 --ranks 2 --set K=16 \
  --set projection_dim=16 --set shuffle_bn=1 -o moco2.plan >/dev/null
"$sslc" compile mae --backbone vit-tiny --width 0.125 --depth 1 --image-size 16 --batch 4 --ranks 2 \
  --set decoder_embed_dim=16 --set decoder_depth=1 --set decoder_num_heads=2 -o mae2.plan >/dev/null
for m in moco mae; do
  "${mpirun[@]}" "$sslc" run $m"2.plan" --data fake:64 --steps 6 --out $m-whole >/dev/null
  "${mpirun[@]}" "$sslc" run $m"2.plan" --data fake:64 --steps 6 --out $m-split --stop-after 3 >/dev/null
  "${mpirun[@]}" "$sslc" run --resume $m-split >/dev/null
  cmp $m-whole/checkpoint.safetensors $m-split/checkpoint.safetensors ||
    fail "$m: stop + resume on 2 ranks is not bit-identical"
done
echo "ok   2-rank MoCo shuffle-BN and MAE: stop + resume is bit-identical"

#!/bin/bash
# The cpu backend's thread count (issue 12, a busy machine): `sslc run` and `sslc eval` choose it
# once at start and say so; SSLC_THREADS sets it, OMP_NUM_THREADS is the user's; a bad value is
# one line. (test_threads checks that the count reaches OpenMP and OpenBLAS.) Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$(realpath "$1")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS SSLC_THREADS
fail() { echo "FAIL: $*"; exit 1; }
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 --augment none \
    -o "$work/p.plan" >/dev/null
run() { env "$@" "$sslc" run "$work/p.plan" --data fake:8 --steps 1 --seed 1; }

out=$(SSLC_THREADS=1 "$sslc" run "$work/p.plan" --data fake:8 --steps 1 --out "$work/run")
echo "$out" | grep -q '^threads: 1 of [0-9]* CPUs (SSLC_THREADS)$' || fail "SSLC_THREADS=1: $out"
[ "$(echo "$out" | grep -c '^threads:')" = 1 ] || fail "the choice is printed once: $out"
out=$(run)
echo "$out" | grep -Eq '^threads: [0-9]+ of [0-9]+ CPUs \(auto: [0-9.]+ busy with other processes at start; SSLC_THREADS=N sets it\)$' ||
    fail "auto: $out"
out=$(run OMP_NUM_THREADS=2)
echo "$out" | grep -q '^threads: 2 of [0-9]* CPUs (OMP_NUM_THREADS)$' || fail "OMP_NUM_THREADS=2: $out"
out=$(run SSLC_THREADS=auto OMP_NUM_THREADS=2)
echo "$out" | grep -q '(auto: ' || fail "SSLC_THREADS=auto wins over OMP_NUM_THREADS: $out"

for bad in 0 two -3; do
    set +e; SSLC_THREADS=$bad "$sslc" run "$work/p.plan" --data fake:8 --steps 1 >/dev/null 2>"$work/err"; rc=$?; set -e
    [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "SSLC_THREADS=$bad: exit $rc"
    [ "$(wc -l <"$work/err")" = 1 ] && grep -q "SSLC_THREADS='$bad' is not a thread count: give a number >= 1 or auto" "$work/err" ||
        fail "SSLC_THREADS=$bad: $(cat "$work/err")"
done

# sslc eval: the choice at the end of the summary line on stderr (stdout keeps the result alone)
SSLC_THREADS=1 "$sslc" eval "$work/run" --data fake:32 --knn 3 >"$work/eval.out" 2>"$work/eval.err" ||
    fail "eval: $(cat "$work/eval.err")"
grep -q '^eval: .*; threads: 1 of [0-9]* CPUs (SSLC_THREADS)$' "$work/eval.err" || fail "eval's line: $(cat "$work/eval.err")"
grep -q threads "$work/eval.out" && fail "eval's stdout: $(cat "$work/eval.out")"
set +e; SSLC_THREADS=x "$sslc" eval "$work/run" --data fake:32 --knn 3 >/dev/null 2>"$work/err"; rc=$?; set -e
[ $rc -ne 0 ] && [ "$(wc -l <"$work/err")" = 1 ] || fail "eval SSLC_THREADS=x: exit $rc, $(cat "$work/err")"
echo "test_threads_cli: ok"

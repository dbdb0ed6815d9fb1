#!/bin/bash
# SSLC_COMM_TIMEOUT while a rank sits in an AllReduceWait (tests/mpi/test_comm_watchdog.c): the
# job ends within a few seconds of the 2 s timeout, non-zero, with rank 0's line naming the
# bucket wait and the hanging rank.
# Args: TEST_BINARY MPIRUN...
set -u
bin=$1; shift
out=$(mktemp); trap 'rm -f "$out"' EXIT
t0=$(date +%s)
SSLC_COMM_TIMEOUT=2 timeout 60 "$@" "$bin" >"$out" 2>&1
rc=$?
dt=$(( $(date +%s) - t0 ))
line="sslc: rank 0: AllReduce (waiting for a gradient bucket) waited 2 s for rank 1, which hangs"
if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then echo "FAIL exit status $rc (0: the wait returned; 124: nothing ended the job)"; cat "$out"; exit 1; fi
if ! grep -qF "$line" "$out"; then echo "FAIL no watchdog line naming the wait:"; cat "$out"; exit 1; fi
if [ $dt -gt 20 ]; then echo "FAIL the job took $dt s to end (timeout 2 s)"; exit 1; fi
echo "ok   a rank waiting for a gradient bucket ends the job in $dt s: $(grep -F "$line" "$out")"

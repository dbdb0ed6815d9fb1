#!/bin/bash
# Images/s of the main job's SimCLR step (ResNet-18 width 0.25, batch 256, 1x28x28, AdamW, fake
# data, `sslc run`) on an idle machine and beside one busy process (a shell loop on one core), for:
#   2 threads   OMP_NUM_THREADS=2, what sslc used before it chose from the load
#   1 thread    OMP_NUM_THREADS=1
#   default     no thread variables: sslc chooses at start (runtime/threads.h; its line is shown)
# Not a test; numbers are only meaningful on an otherwise quiet machine.
# usage: bench/busy_bench.sh build/sslc [STEPS]   (timed steps per run, default 6; the first is warm-up)
set -u
sslc=$(realpath "${1:?usage: bench/busy_bench.sh SSLC [STEPS]}")
steps=${2:-6}
tmp=$(mktemp -d)
busy_pid=
cleanup() {
    [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS SSLC_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT

"$sslc" compile simclr --backbone resnet18 --width 0.25 --image-size 28 --channels 1 --batch 256 \
    --optimizer adamw --lr 1e-3 --weight-decay 1e-6 --set temperature=0.2 --augment none -o "$tmp/p.plan" >/dev/null ||
    exit 1
# compile and cache the kernels outside the timings
SSLC_THREADS=2 "$sslc" run "$tmp/p.plan" --data fake:256 --steps 1 >/dev/null || exit 1

# images/s: the mean of the logged steps after the first; prints sslc's thread line too
measure() { # VAR=VALUE... (the environment of this run)
    env "$@" "$sslc" run "$tmp/p.plan" --data fake:256 --steps $((steps + 1)) --log-every 1 >"$tmp/out" 2>&1 ||
        { tail -3 "$tmp/out"; exit 1; }
    local ips threads
    ips=$(grep -o '[0-9.]* img/s' "$tmp/out" | tail -n +2 | awk '{s += $1; n++} END {if (n) printf "%.1f", s / n}')
    threads=$(grep -m1 '^threads:' "$tmp/out" | sed 's/^threads: //')
    printf '%-8s %s\n' "${ips:-?}" "$threads"
}

busy_start() {
    bash -c 'while :; do :; done' &
    busy_pid=$!
    sleep 1 # let the scheduler see it before sslc samples the load
}
busy_stop() {
    kill "$busy_pid" 2>/dev/null
    wait "$busy_pid" 2>/dev/null
    busy_pid=
}

echo "main job's SimCLR step (width 0.25, batch 256, 1x28x28, AdamW), $steps timed steps per run, img/s"
printf '%-10s %-6s %s\n' setting load "img/s    sslc's thread line"
for load in idle busy; do
    [ "$load" = busy ] && busy_start
    printf '%-10s %-6s ' "2 threads" "$load"; measure OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
    printf '%-10s %-6s ' "1 thread" "$load"; measure OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
    printf "%-10s %-6s " "default" "$load"; measure
    [ "$load" = busy ] && busy_stop
done

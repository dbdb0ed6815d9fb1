#!/bin/bash
# Memory (issue 15): before the first step the cpu backend compares what the step needs (arena,
# persistent region, update staging, OpenBLAS's and oneDNN's own buffers) with what the process
# may use (MemAvailable, RLIMIT_AS minus VmSize, the cgroup). Under an address-space limit too
# small for the plan (ResNet-18 at half width, 64 px, batch 32: an arena of about 370 MiB) the
# run is refused in one line naming the sizes and the limit instead of hanging inside OpenBLAS
# (which retries a failing buffer allocation forever); under a generous one it trains.
# Args: SSLC_BINARY SOURCE_DIR
sslc=$(realpath "$1"); src=$(realpath "$2")
source "$src/tests/tools/cli_checks.sh"
"$sslc" compile simclr --backbone resnet18 --width 0.5 --image-size 64 --batch 32 -o "$work/p.plan" >/dev/null \
    || bad "compile"

# a generous limit (3 GB of address space): one step runs (and caches the kernels)
( ulimit -v 3000000; timeout 60 "$sslc" run "$work/p.plan" --steps 1 --out "$work/big" >"$work/big.txt" 2>&1 )
rc=$?
[ $rc -eq 0 ] && [ -s "$work/big/checkpoint.safetensors" ] && ok "one step under ulimit -v 3000000" \
    || bad "one step under ulimit -v 3000000 (rc $rc: $(tail -c 300 "$work/big.txt"))"

# 700 MB of address space: refused in one line, well before the 60 s timeout (800 MB hung before)
for kb in 700000 800000; do
    expect_error "refused under ulimit -v $kb" "needs [0-9]* MiB (arena.*may use [0-9]* MiB (RLIMIT_AS): use a smaller --batch" \
        bash -c "ulimit -v $kb; exec timeout 60 \"\$0\" run \"\$1\" --steps 1 --out \"\$2\"" "$sslc" "$work/p.plan" "$work/small$kb"
    [ -e "$work/small$kb/checkpoint.safetensors" ] && bad "a checkpoint after the refusal under $kb"
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

#!/bin/bash
# Memory under a real cgroup limit (issue 15): the cpu backend's pre-flight check reads the
# process's own cgroup (v2 memory.max/memory.current, or v1 memory.limit_in_bytes/usage_in_bytes)
# beside MemAvailable and RLIMIT_AS. test_memlimit covers the parsing with files it writes;
# this test puts `sslc run` into a child cgroup with a memory limit and checks, end to end, that
# a limit too small for the plan is refused in one line naming the cgroup file, and that a
# generous limit trains.
# Creating a cgroup needs root and a writable memory controller (a container may not allow it):
# where it cannot, the test exits 77 and ctest reports it as "Skipped", never as passed.
# Args: SSLC_BINARY SOURCE_DIR
sslc=$(realpath "$1"); src=$(realpath "$2")
source "$src/tests/tools/cli_checks.sh"

# a fresh child cgroup with the memory controller; sets $cg, $limit_file (the file to write)
make_cgroup() {
    local v1=/sys/fs/cgroup/memory v2=/sys/fs/cgroup
    [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && v2=/sys/fs/cgroup/unified
    if [ -f "$v2/cgroup.subtree_control" ] && grep -qw memory "$v2/cgroup.subtree_control" 2>/dev/null; then
        cg=$v2/sslc-memtest-$$ limit_file=memory.max
    elif [ -f "$v1/memory.limit_in_bytes" ]; then
        cg=$v1/sslc-memtest-$$ limit_file=memory.limit_in_bytes
    else
        return 1
    fi
    mkdir "$cg" 2>/dev/null && [ -w "$cg/$limit_file" ]
}
if [ "$(id -u)" -ne 0 ] || ! make_cgroup; then
    echo "no writable memory cgroup here (needs root and a cgroup memory controller): not run"
    exit 77
fi
cleanup_cgroup() { rmdir "$cg" 2>/dev/null; rm -rf "$work"; }
trap cleanup_cgroup EXIT

"$sslc" compile simclr --backbone resnet18 --width 0.5 --image-size 64 --batch 32 -o "$work/p.plan" >/dev/null \
    || bad "compile"
# cache the kernels outside the limit, so the limited runs measure the step, not the C compiler
timeout 120 "$sslc" run "$work/p.plan" --steps 1 --out "$work/warm" >/dev/null 2>&1 || bad "warm-up run"

# run_in_cgroup BYTES OUT: sslc run in the cgroup limited to BYTES
run_in_cgroup() {
    echo "$1" > "$cg/$limit_file" || { bad "writing $1 to $cg/$limit_file"; return 1; }
    bash -c 'echo $$ > "$0/cgroup.procs" && exec timeout 60 "$1" run "$2" --steps 1 --out "$3"' \
        "$cg" "$sslc" "$work/p.plan" "$2"
}

# 3 GB: one step runs (the plan needs about 450 MiB)
run_in_cgroup 3000000000 "$work/big" >"$work/big.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && [ -s "$work/big/checkpoint.safetensors" ] && ok "one step in a cgroup limited to 3 GB" \
    || bad "one step in a cgroup limited to 3 GB (rc $rc: $(tail -c 300 "$work/big.txt"))"

# 200 MB: refused before the first step, naming the cgroup file, not killed by the OOM killer
expect_error "refused in a cgroup limited to 200 MB" \
    "needs [0-9]* MiB (arena.*may use [0-9]* MiB (cgroup $limit_file): use a smaller --batch" \
    run_in_cgroup 200000000 "$work/small"
[ -e "$work/small/checkpoint.safetensors" ] && bad "a checkpoint after the refusal in the cgroup"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

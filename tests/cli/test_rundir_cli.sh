#!/bin/bash
# Run directories (issue 15): a run holds DIR/.lock for its whole life, so a second run (or a
# resume) on the same directory is refused in one line naming the holder's PID; `sslc train`'s
# default runs/METHOD picks the next free name with mkdir, so runs started at once never share
# one; --out into a non-empty folder that is not an sslc run is refused (a user's plan.plan is
# not overwritten, metrics are not appended to); a fresh run starts metrics.jsonl anew.
# Args: SSLC_BINARY SOURCE_DIR
sslc=$(realpath "$1"); src=$(realpath "$2")
source "$src/tests/tools/cli_checks.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
tiny=(--backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8)
"$sslc" compile simclr "${tiny[@]}" -o "$work/p.plan" >/dev/null || bad "compile"
"$sslc" compile simclr "${tiny[@]}" --lr-schedule constant -o "$work/c.plan" >/dev/null || bad "compile"

# --- a run in progress holds the directory
"$sslc" run "$work/c.plan" --data fake:4096:1x16x16 --steps 1000000 --out "$work/busy" --log-every 1 \
    >"$work/busy.txt" 2>&1 &
pid=$!
for i in $(seq 1 600); do [ -s "$work/busy/metrics.jsonl" ] && break; sleep 0.1; done
[ -s "$work/busy/metrics.jsonl" ] || bad "the long run did not start"
expect_error "second run on a busy directory" "in use by another sslc run (PID $pid)" \
    "$sslc" run "$work/c.plan" --data fake:4096:1x16x16 --steps 4 --out "$work/busy"
expect_error "resume of a busy directory" "in use by another sslc run (PID $pid)" \
    "$sslc" run --resume "$work/busy"
expect_error "sslc train into a busy directory" "in use by another sslc run (PID $pid)" \
    "$sslc" train simclr "${tiny[@]}" --data fake:64:1x16x16 --steps 2 --no-eval --out "$work/busy"
kill -INT $pid; wait $pid
rc=$?; [ $rc -eq 130 ] && ok "the holder ends normally (130)" || bad "the holder: exit $rc"
"$sslc" run --resume "$work/busy" --steps $(( $(sed -n 's/^interrupted (Ctrl-C) at step \([0-9]*\);.*/\1/p' \
    "$work/busy.txt") + 2 )) >/dev/null 2>&1 && ok "the directory is free again once the run ended" \
    || bad "resume after the holder ended"

# --- --out into a folder that is not an sslc run
mkdir "$work/mine" && echo "my notes" >"$work/mine/notes.txt"
expect_error "non-empty foreign folder" "not an sslc run directory (it holds 'notes.txt')" \
    "$sslc" run "$work/p.plan" --data fake:64:1x16x16 --steps 2 --out "$work/mine"
mkdir "$work/user" && echo "a user's file" >"$work/user/plan.plan"
expect_error "a user's plan.plan" "not an sslc run directory" \
    "$sslc" run "$work/p.plan" --data fake:64:1x16x16 --steps 2 --out "$work/user"
grep -qx "a user's file" "$work/user/plan.plan" && ok "the user's plan.plan is untouched" \
    || bad "the user's plan.plan was overwritten"
expect_error "sslc train into a foreign folder" "not an sslc run directory" \
    "$sslc" train simclr "${tiny[@]}" --data fake:64:1x16x16 --steps 2 --no-eval --out "$work/mine"
# the plan in the directory it is run into is fine, and so is an empty folder
mkdir "$work/own" "$work/empty" && cp "$work/p.plan" "$work/own/plan.plan"
"$sslc" run "$work/own/plan.plan" --data fake:64:1x16x16 --steps 2 --out "$work/own" >/dev/null 2>&1 \
    && ok "a plan run into its own folder" || bad "a plan run into its own folder"
"$sslc" run "$work/p.plan" --data fake:64:1x16x16 --steps 2 --out "$work/empty" >/dev/null 2>&1 \
    && ok "an empty folder" || bad "an empty folder"
expect_error "a finished run" "already holds a run" \
    "$sslc" run "$work/p.plan" --data fake:64:1x16x16 --steps 2 --out "$work/empty"
# an sslc run that never checkpointed (stale metrics): the fresh run starts metrics.jsonl anew
mkdir "$work/stale" && touch "$work/stale/.lock" && echo '{"step":7,"stale":1}' >"$work/stale/metrics.jsonl"
"$sslc" run "$work/p.plan" --data fake:64:1x16x16 --steps 2 --out "$work/stale" --log-every 1 >/dev/null 2>&1 \
    || bad "run over a stale run directory"
[ "$(grep -c . "$work/stale/metrics.jsonl")" -eq 2 ] && ! grep -q stale "$work/stale/metrics.jsonl" \
    && ok "metrics.jsonl starts anew" || bad "metrics.jsonl: $(cat "$work/stale/metrics.jsonl")"

# --- sslc train's default runs/METHOD: runs started at once get their own directories
mkdir "$work/cwd"
for k in 1 2 3; do
    (cd "$work/cwd" && "$sslc" train simclr "${tiny[@]}" --data fake:64:1x16x16 --steps 2 --no-eval \
        >"$work/t$k.txt" 2>&1) &
done
wait
n=0; for d in simclr simclr-2 simclr-3; do [ -s "$work/cwd/runs/$d/checkpoint.safetensors" ] && n=$((n+1)); done
[ $n -eq 3 ] && [ "$(ls "$work/cwd/runs" | wc -l)" -eq 3 ] && ok "three concurrent trains, three directories" \
    || bad "concurrent trains: $(ls "$work/cwd/runs"); $(cat "$work"/t?.txt | grep -i error)"
for d in simclr simclr-2 simclr-3; do
    # a progress line per step (and the online kNN's line at the end)
    [ "$(grep -c '"loss"' "$work/cwd/runs/$d/metrics.jsonl" 2>/dev/null)" = 2 ] || bad "runs/$d/metrics.jsonl has not 2 progress lines"
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

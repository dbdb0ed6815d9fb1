#!/bin/bash
# Signals at any moment of a run (issue 15): SIGINT/SIGTERM at random moments of short resumed
# runs, one signal or a storm of two, including the moment the last step is printed (the final
# save: it used to kill the process with no checkpoint and no message). After each trial the exit
# status is 0, 130 or 143, no checkpoint temporary file is left, the checkpoint loads (the next
# trial resumes it), and with a single signal it holds the last step printed (the step finished
# and was saved). A second signal stops at once, keeping the last complete checkpoint; so does
# a save that hangs past the first signal's grace.
# SSLC_SIGNAL_SEED picks the random moments (printed). Args: SSLC_BINARY SOURCE_DIR
sslc=$(realpath "$1"); src=$(realpath "$2")
source "$src/tests/tools/cli_checks.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --channels 1 --batch 8 \
    --optimizer adamw --lr-schedule constant -o "$work/c.plan" >/dev/null || bad "compile"
"$sslc" run "$work/c.plan" --data fake:256:1x16x16 --steps 4 --out "$work/run" >/dev/null || bad "first run"

/usr/bin/python3 - "$sslc" "$work/run" "${SSLC_SIGNAL_SEED:-$RANDOM}" <<'PY'
import glob, json, os, random, re, signal, struct, subprocess, sys, time
sslc, run, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
print(f"seed {seed} (SSLC_SIGNAL_SEED={seed} repeats these moments)")
def ckpt_step():
    with open(run + "/checkpoint.safetensors", "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return int(json.loads(f.read(n))["__metadata__"]["step"])
fails = 0
def bad(msg):
    global fails
    fails += 1
    print("FAIL", msg)
prev = ckpt_step()
for trial in range(10):
    total = prev + 100
    mode = ("random", "final save", "storm")[trial % 3]
    sig = rng.choice([signal.SIGINT, signal.SIGTERM])
    p = subprocess.Popen([sslc, "run", "--resume", run, "--steps", str(total), "--log-every", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = []
    if mode == "final save":  # the moment the last step is printed, the final save begins
        for line in p.stdout:
            out.append(line)
            if line.startswith(f"step {total}/{total}"):
                p.send_signal(sig)
                break
    else:
        time.sleep(rng.uniform(0.0, 0.35))
        p.send_signal(sig)
        if mode == "storm":
            time.sleep(rng.uniform(0.0, 0.005))
            p.send_signal(rng.choice([signal.SIGINT, signal.SIGTERM]))
    rest, errs = p.communicate(timeout=60)
    out += rest.splitlines(keepends=True)
    rc = p.returncode
    steps = [int(m.group(1)) for m in (re.match(r"step (\d+)/", l) for l in out) if m]
    last = steps[-1] if steps else None
    label = f"trial {trial} ({mode}, {signal.Signals(sig).name}, rc {rc}, last step printed {last})"
    # killed by the default action only before the handlers exist: nothing printed yet
    if rc not in (0, 130, 143) and not (rc < 0 and last is None):
        bad(f"{label}: exit status; stderr: {errs.strip()}")
        continue
    if glob.glob(run + "/checkpoint.safetensors.tmp.*"):
        bad(f"{label}: a checkpoint temporary file was left")
    try:
        now = ckpt_step()
    except Exception as e:
        bad(f"{label}: the checkpoint does not read: {e}")
        break
    if mode != "storm" and now != (last if last is not None else prev):
        bad(f"{label}: checkpoint at step {now}, expected {last if last is not None else prev}; stdout "
            f"{''.join(out[-2:]).strip()!r}, stderr {errs.strip()!r}")
    elif mode == "storm" and not prev <= now <= (last if last is not None else prev):
        bad(f"{label}: checkpoint at step {now}, outside {prev}..{last}")
    else:
        print(f"ok   {label}: checkpoint at step {now}")
    if len(errs.strip().splitlines()) > 1:
        bad(f"{label}: more than one line on stderr: {errs!r}")
    prev = now
r = subprocess.run([sslc, "run", "--resume", run, "--steps", str(prev + 4)], capture_output=True, text=True)
if r.returncode != 0 or ckpt_step() != prev + 4:
    bad(f"the last resume: rc {r.returncode}, {r.stderr.strip()}")
else:
    print(f"ok   the checkpoint resumes to step {prev + 4}")
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] && ok "signal trials" || bad "signal trials"

# --- a save that does not end: the first signal's grace (SSLC_STOP_GRACE_S=1 here, 5 s by
# default) runs out, the process stops at once with one line, the write in progress is removed
# and the previous checkpoint stays
step() { /usr/bin/python3 -c 'import json, struct, sys; f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]
print(json.loads(f.read(n))["__metadata__"]["step"])' "$work/run/checkpoint.safetensors"; }
before=$(step)
SSLC_FAULT_SLOW_RENAME=checkpoint.safetensors SSLC_STOP_GRACE_S=1 "$sslc" run --resume "$work/run" \
    --steps $((before + 4)) --checkpoint-every 1000000 --log-every 1 >"$work/slow.txt" 2>"$work/slow.err" &
pid=$!
for i in $(seq 1 600); do grep -q "^step $((before + 4))/" "$work/slow.txt" && break; sleep 0.05; done
sleep 0.2; kill -TERM $pid; t0=$(date +%s); wait $pid; rc=$?; t=$(( $(date +%s) - t0 ))
if [ $rc -eq 143 ] && [ $t -le 4 ] && [ "$(wc -l <"$work/slow.err")" -eq 1 ] && grep -q "did not end within 1 s" "$work/slow.err" \
    && [ -z "$(ls "$work/run" | grep '\.tmp\.')" ] && [ "$(step)" = "$before" ]; then
    ok "a hung save: stopped after the grace, previous checkpoint kept"
else
    bad "a hung save: rc $rc after $t s, stderr '$(cat "$work/slow.err")', files $(ls "$work/run"), step $(step) (was $before)"
fi
"$sslc" run --resume "$work/run" --steps $((before + 4)) >/dev/null && ok "and it resumes" || bad "resume after a hung save"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

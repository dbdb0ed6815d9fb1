#!/bin/bash
# CLI: DINO/SwAV option errors and sslc step's per-step schedule inputs end in one clear line on
# stderr and a non-zero exit; `sslc methods` lists the new options and notes.
# Args: SSLC_BINARY SOURCE_DIR
set -u
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail=0
expect_error() { # WANT CMD...
    local want=$1; shift
    "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    if [ $rc -eq 0 ] || [ "$(wc -l <"$work/err")" -ne 1 ] || ! grep -q -- "$want" "$work/err"; then
        echo "FAIL: $* -> rc $rc, stderr: $(cat "$work/err") (want '$want')"; fail=1
    else
        echo "ok   $(cat "$work/err")"
    fi
}
c="$sslc compile --backbone convnet --width 0.25 --image-size 16 --batch 4"
expect_error "num_crops must be in \[0, 14\]" $c dino --set num_crops=-1 -o "$work/x.plan"
expect_error "num_crops must be in \[0, 14\]" $c swav --set num_crops=20 -o "$work/x.plan"
expect_error "needs local crops of at least 4x4" $sslc compile swav --backbone convnet --image-size 8 --batch 4 -o "$work/x.plan"
expect_error "sinkhorn_iterations" $c swav --set sinkhorn_iterations=0 -o "$work/x.plan"
expect_error "temp_t must be > 0" $c dino --set temp_t=0 -o "$work/x.plan"
$sslc methods dino | grep -q "warmup_teacher_temp_epochs" || { echo "FAIL: methods dino"; fail=1; }
$sslc methods swav | grep -q "note: follows the reference implementation" || { echo "FAIL: methods swav"; fail=1; }
# a plan and inputs, then a schedule tensor of the wrong shape
# --augment none: the step below feeds views.0..2
$c dino --set num_crops=1 --set projection_dim=8 --set hidden_dim=8 --set bottleneck_dim=4 --augment none -o "$work/d.plan" >/dev/null || fail=1
/usr/bin/python3 -c "
import sys; sys.path.insert(0, '$src/tests/oracle'); import st, numpy as np
r = np.random.default_rng(0)
v = {'views.0': r.standard_normal((4, 3, 16, 16), np.float32), 'views.1': r.standard_normal((4, 3, 16, 16), np.float32),
     'views.2': r.standard_normal((4, 3, 7, 7), np.float32)}
st.save('$work/ok.safetensors', dict(v, **{'sched.temp_t': np.array([0.4, 0.3], np.float32)}))
st.save('$work/bad.safetensors', dict(v, **{'sched.temp_t': np.array([0.4], np.float32)}))
st.save('$work/i64.safetensors', dict(v, **{'sched.temp_t': np.array(1, np.int64)}))
" || fail=1
$sslc step "$work/d.plan" --inputs "$work/ok.safetensors" --steps 2 --dump "$work/o.safetensors" || { echo "FAIL: step with schedule"; fail=1; }
expect_error "schedule input 'sched.temp_t' must be F32 of shape \[\] or \[N\] with N >= 2 steps" \
    $sslc step "$work/d.plan" --inputs "$work/bad.safetensors" --steps 2 --dump "$work/o.safetensors"
expect_error "schedule input 'sched.temp_t'" $sslc step "$work/d.plan" --inputs "$work/i64.safetensors" --dump "$work/o.safetensors"
exit $fail

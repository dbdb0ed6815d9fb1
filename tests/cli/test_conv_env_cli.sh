#!/bin/bash
# The cpu backend's convolution settings (docs/PERFORMANCE.md, "Convolution algorithms"): every
# policy SSLC_CONV_ALGO / SSLC_DNNL_LAYOUT / SSLC_CONV names runs the same plan to losses within
# rounding of the default's, and a value that names none is one line and a non-zero exit, never a
# silent fallback. Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$(realpath "$1")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
unset SSLC_CONV_ALGO SSLC_DNNL_LAYOUT SSLC_CONV
fail() { echo "FAIL: $*"; exit 1; }
"$sslc" compile simclr --width 0.25 --image-size 16 --channels 3 --batch 8 --augment none -o "$work/p.plan" >/dev/null
loss() { env "$@" SSLC_THREADS=1 "$sslc" run "$work/p.plan" --data fake:16 --steps 2 --seed 1 |
    awk '/^step 2\/2/ { for (i = 1; i <= NF; i++) if ($i == "loss") print $(i + 1) }'; }
want=$(loss)
[ -n "$want" ] || fail "the default run printed no loss"
for setting in SSLC_CONV_ALGO=tuned SSLC_CONV_ALGO=auto SSLC_CONV_ALGO=direct SSLC_DNNL_LAYOUT=plain \
    SSLC_DNNL_LAYOUT=weights SSLC_DNNL_LAYOUT=any SSLC_CONV=ref SSLC_CONV=dnnl; do
    got=$(loss "$setting")
    awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-4 * (b < 0 ? -b : b)) }' ||
        fail "$setting: loss $got, default $want"
done
for bad in SSLC_CONV_ALGO=winograd SSLC_DNNL_LAYOUT=nhwc SSLC_CONV=cudnn; do
    set +e; env "$bad" "$sslc" run "$work/p.plan" --data fake:16 --steps 1 >/dev/null 2>"$work/err"; rc=$?; set -e
    [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "$bad: exit $rc"
    [ "$(wc -l <"$work/err")" = 1 ] && grep -q "${bad} is not a.*: use " "$work/err" || fail "$bad: $(cat "$work/err")"
done
echo "test_conv_env_cli: ok"

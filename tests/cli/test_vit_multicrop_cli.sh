#!/bin/bash
# ViT multi-crop (issue 16): `sslc compile dino|swav --backbone vit-tiny|vit-small --image-size 32
# --set num_crops=6` compiles at full size; local crops are 3/7 of the image rounded to whole
# patches (32 px, patch 4: 12x12, a 3x3 grid; patch 8: 16x16); DINO trains a few steps on the cpu
# backend and SwAV on the reference interpreter (small ViTs), with finite losses; their
# checkpoints keep pos_embed at the global grid; an image too small for one local patch is one
# line. Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$(realpath "$1"); src=$(realpath "$2")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
fail() { echo "FAIL: $*"; exit 1; }
expect_error() { # PATTERN CMD...: one line on stderr, a non-zero exit (not a crash)
    local pat=$1; shift
    set +e; "$@" >"$work/out.txt" 2>"$work/err.txt"; local rc=$?; set -e
    [ $rc -ne 0 ] || fail "expected an error from: $*"
    [ $rc -lt 128 ] || fail "crashed (exit $rc): $*"
    [ "$(wc -l <"$work/err.txt")" -eq 1 ] || { cat "$work/err.txt"; fail "expected one error line from: $*"; }
    grep -q -- "$pat" "$work/err.txt" || { cat "$work/err.txt"; fail "error does not match '$pat': $*"; }
    echo "ok   $(cat "$work/err.txt")"
}

# --- the issue's command, full size, for both methods and both ViTs (graph only: fast)
for m in dino swav; do
    for b in vit-tiny vit-small; do
        "$sslc" compile $m --backbone $b --image-size 32 --set num_crops=6 --batch 4 --targets none \
            -o "$work/$m-$b.plan" >/dev/null || fail "compile $m --backbone $b --set num_crops=6"
    done
done

# --- local crop sizes: sslc step accepts views.2 at the whole-patch local size only
small="--backbone vit-tiny --width 0.125 --depth 2 --image-size 32 --batch 4"
feed() { # PLAN LOCAL_SIZE OUT
    /usr/bin/python3 - "$src/tests/oracle" "$3" "$2" <<'EOF'
import sys; sys.path.insert(0, sys.argv[1]); import st, numpy as np
r, l = np.random.default_rng(0), int(sys.argv[3])
st.save(sys.argv[2], {'views.0': r.standard_normal((4, 3, 32, 32), np.float32),
                      'views.1': r.standard_normal((4, 3, 32, 32), np.float32),
                      'views.2': r.standard_normal((4, 3, l, l), np.float32)})
EOF
}
for p in "4 12" "8 16"; do
    set -- $p
    "$sslc" compile dino $small --patch-size $1 --set num_crops=1 --set projection_dim=16 --augment none \
        -o "$work/p$1.plan" >/dev/null
    feed "$work/p$1.plan" $2 "$work/ok$1.safetensors"
    "$sslc" step "$work/p$1.plan" --inputs "$work/ok$1.safetensors" --dump "$work/d$1.safetensors" >/dev/null ||
        fail "patch $1: a ${2}x$2 local crop is refused"
done
feed "$work/p4.plan" 14 "$work/bad.safetensors"
expect_error "views.2" "$sslc" step "$work/p4.plan" --inputs "$work/bad.safetensors" --dump "$work/d.safetensors"

# --- training: 6 local crops, finite losses, pos_embed stays at the global 8x8 grid + class token
"$sslc" train dino $small --set num_crops=6 --data fake:16:3x32x32 --steps 3 --no-eval --out "$work/dino" \
    >"$work/dino.log" || { cat "$work/dino.log"; fail "train dino on vit-tiny with 6 local crops"; }
"$sslc" train swav --backbone vit-small --width 0.125 --depth 2 --image-size 32 --batch 4 --set num_crops=6 \
    --data fake:16:3x32x32 --steps 3 --no-eval --device ref --out "$work/swav" >"$work/swav.log" ||
    { cat "$work/swav.log"; fail "train swav on vit-small with 6 local crops"; }
/usr/bin/python3 - "$src/tests/oracle" "$work" <<'EOF' || fail "the runs' losses or checkpoints"
import json, math, sys
sys.path.insert(0, sys.argv[1]); import st
for run, dim in (("dino", 24), ("swav", 48)):
    losses = [json.loads(l)["loss"] for l in open(f"{sys.argv[2]}/{run}/metrics.jsonl") if '"loss"' in l]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses), (run, losses)
    ck = st.load(f"{sys.argv[2]}/{run}/checkpoint.safetensors")
    assert ck["backbone.pos_embed"].shape == (1, 65, dim), (run, ck["backbone.pos_embed"].shape)
    print(f"{run}: losses {losses}")
EOF

# --- an image too small for a local crop of one patch
expect_error "at least one 8x8 patch" "$sslc" compile dino --backbone vit-tiny --image-size 8 --patch-size 8 \
    --set num_crops=2 -o "$work/x.plan"
echo "vit multi-crop cli: ok"

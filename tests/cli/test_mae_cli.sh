#!/bin/bash
# MAE from the command line: its per-step masks (aug.shuffle.mask, drawn from the run's seed)
# keep a resumed run bit-exact (2 + 2 steps with a resume = 4 straight, checkpoints identical);
# another --seed draws other masks (another checkpoint); the steps run with and without
# augmentation (--augment none feeds the masks too); bad backbones and options are refused in one
# line. Args: SSLC_BINARY SOURCE_DIR
set -u
sslc=$1
. "$2/tests/tools/cli_checks.sh"
small=(--backbone vit-tiny --width 0.125 --depth 1 --image-size 16 --batch 8 --set decoder_embed_dim=16
       --set decoder_depth=1 --set decoder_num_heads=2)
"$sslc" compile mae "${small[@]}" -o "$work/mae.plan" >/dev/null || bad "compile"
r() { "$sslc" run "$work/mae.plan" --data fake:64 --steps 4 "$@" >"$work/log" 2>&1 || bad "run $*: $(tail -1 "$work/log")"; }
r --out "$work/straight"
r --out "$work/split" --stop-after 2
"$sslc" run --resume "$work/split" >"$work/log" 2>&1 || bad "resume: $(tail -1 "$work/log")"
cmp -s "$work/straight/checkpoint.safetensors" "$work/split/checkpoint.safetensors" \
    && ok "2 steps + resume + 2 steps = 4 steps, bit for bit (the masks are the run's)" || bad "resumed run differs"
r --out "$work/seed7" --seed 7
cmp -s "$work/straight/checkpoint.safetensors" "$work/seed7/checkpoint.safetensors" \
    && bad "--seed 7 gave the same checkpoint" || ok "another seed, other masks and another checkpoint"
"$sslc" compile mae "${small[@]}" --augment none -o "$work/none.plan" >/dev/null &&
    "$sslc" run "$work/none.plan" --data fake:64 --steps 2 --out "$work/none" >"$work/log" 2>&1 &&
    grep -q "done: 2 steps" "$work/log" && ok "--augment none: views as inputs, masks still drawn" \
    || bad "--augment none: $(tail -1 "$work/log")"
expect_error "resnet refused naming the fix" "mae: .* not resnet18: use --backbone vit-tiny" \
    "$sslc" compile mae --backbone resnet18 -o "$work/x.plan"
expect_error "mask_ratio masking every patch refused" "mask_ratio 0.99 keeps 0 of the 16 patches" \
    "$sslc" compile mae "${small[@]}" --set mask_ratio=0.99 -o "$work/x.plan"
expect_error "decoder heads that do not divide its width refused" "decoder_num_heads 3 must divide decoder_embed_dim 16" \
    "$sslc" compile mae "${small[@]}" --set decoder_num_heads=3 -o "$work/x.plan"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

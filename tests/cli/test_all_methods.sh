#!/bin/bash
# Every method compiles and trains 3 steps on fake data with a ResNet and with a ViT backbone
# (small widths and heads so all plans fit in the default suite; MAE, ViT-only, must refuse the
# ResNet in one line). Args: SSLC_BINARY SOURCE_DIR
set -u
sslc=$1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export SSLC_CACHE_DIR=${SSLC_CACHE_DIR:-$work/cache} OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
. "$2/tests/tools/method_opts.sh"
pass=0; fail=0
for m in $(printf '%s\n' "${!opts[@]}" | sort); do
  for bb in resnet18 vit-tiny; do
    sets=()
    for o in ${opts[$m]}; do
      # multi-crop needs position-embedding interpolation, which ViTs do not have yet
      [ "$bb" = vit-tiny ] && [[ $o == num_crops=* ]] && o=num_crops=0
      sets+=(--set "$o")
    done
    extra=(--width 0.125); [ "$bb" = vit-tiny ] && extra=(--width 0.125 --depth 1)
    plan=$work/$m-$bb.plan
    if [ -n "${vit_only[$m]:-}" ] && [ "$bb" != vit-tiny ]; then # refused in one line naming the fix
      if ! "$sslc" compile "$m" --backbone "$bb" -o "$plan" 2>"$work/log" && [ "$(wc -l <"$work/log")" -eq 1 ] &&
         grep -q "use --backbone vit-tiny" "$work/log"; then
        pass=$((pass+1)); echo "ok   $m $bb: refused: $(cat "$work/log")"
      else
        fail=$((fail+1)); echo "FAIL $m $bb: not refused in one line: $(tail -2 "$work/log")"
      fi
      continue
    fi
    if "$sslc" compile "$m" --backbone "$bb" "${extra[@]}" --image-size 16 --batch 8 "${sets[@]}" -o "$plan" >"$work/log" 2>&1 &&
       "$sslc" run "$plan" --data fake:512 --steps 3 >>"$work/log" 2>&1 &&
       grep -q "done: 3 steps" "$work/log"; then
      pass=$((pass+1)); echo "ok   $m $bb: $(grep 'step 3/3' "$work/log" | sed 's/  */ /g')"
    else
      fail=$((fail+1)); echo "FAIL $m $bb: $(tail -2 "$work/log")"
    fi
  done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

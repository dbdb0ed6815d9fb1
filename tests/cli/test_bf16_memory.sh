#!/bin/bash
# bf16 mixed precision must not cost memory: for every method, on the main job's model (ResNet-18
# width 0.25, batch 256, 1x28x28, AdamW; MAE on vit-tiny), the arena of the bf16 plan is at most
# the arena of the same step in float32 (sslc inspect plans both from the plan's graph; arena
# sizes are deterministic). Two methods are still a little over and are held to their measured
# margin so that they cannot grow: NNCLR (361.9 MiB against 354.7, +2.0 %) and SwAV (441.5
# against 441.4). Compiles only (no kernels are built): ~10 s. Args: SSLC_BINARY SOURCE_DIR
set -u
sslc=$1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export SSLC_CACHE_DIR=${SSLC_CACHE_DIR:-$work/cache}
. "$2/tests/tools/method_opts.sh"
# allowed excess over float32, MiB
declare -A over=([nnclr]=7.3 [swav]=0.2)
pass=0; fail=0
ok() { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
methods=$("$sslc" methods 2>&1 | grep -E '^[a-z0-9_]+$')
[ "$(echo "$methods" | wc -w)" -ge 14 ] || bad "sslc methods lists $(echo "$methods" | wc -w) methods: $methods"
for m in $methods; do
  bb=${vit_only[$m]:+--backbone vit-tiny}
  if ! "$sslc" compile "$m" ${bb:-} --width 0.25 --image-size 28 --channels 1 --batch 256 --optimizer adamw \
       --precision bf16 -o "$work/$m.plan" >"$work/log" 2>&1; then
    bad "$m: $(tail -1 "$work/log")"; continue
  fi
  line=$("$sslc" inspect "$work/$m.plan" 2>&1 | grep '^precision bf16:')
  read -r b f <<<"$(echo "$line" | sed -n 's/.*arena \([0-9.]*\) MiB against \([0-9.]*\) MiB in float32.*/\1 \2/p')"
  if [ -z "${b:-}" ] || [ -z "${f:-}" ]; then bad "$m: no bf16 memory line: $line"; continue; fi
  if awk -v b="$b" -v f="$f" -v o="${over[$m]:-0}" 'BEGIN { exit !(b <= f + o) }'; then
    ok "$m: bf16 arena $b MiB, float32 $f MiB${over[$m]:+ (allowed +${over[$m]} MiB)}"
  else
    bad "$m: bf16 arena $b MiB > float32 $f MiB${over[$m]:+ + ${over[$m]}}"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/bash
# The cuda backend's host logic without a GPU (issue 17): the backend runs against the stand-in
# of the CUDA driver, cuBLAS and cuDNN (tests/fake_cuda/: host memory, each fused kernel's C
# twin, the device library ops' C twins, the op table's convolution kernels), so every method's
# steps on --device cuda must be BIT-IDENTICAL to the cpu backend with the same kernels
# (SSLC_CONV=ref): arena offsets, argument order, copies, update staging and graph replay are
# all checked by that. It proves nothing about device numerics (tests/gpu/run.sh does).
# Also: replay vs plain launches, checkpoints crossing cpu <-> cuda, the one-line refusals.
# Args: SSLC_BINARY SOURCE_DIR
set -u
sslc=$(realpath "$1")
. "$2/tests/tools/cli_checks.sh"
fake=$(dirname "$sslc")/tests/libsslc_fakecuda.so
[ -f "$fake" ] || { echo "FAIL the stand-in $fake was not built"; exit 1; }
if ! "$sslc" devices | grep -q "^nvrtc  [0-9]"; then
  "$sslc" devices
  echo "skip: NVRTC (the CUDA toolkit) is not installed: the cuda backend compiles its kernels with it"
  exit 77
fi
standin() { SSLC_CUDA_DRIVER=$fake SSLC_CUBLAS_LIB=$fake SSLC_CUDNN_LIB=$fake "$@"; }
# one run of $plan; prints its last line when it fails
run() { "$sslc" run "$plan" --data fake:64 --steps $steps --seed 5 "$@" >"$work/log" 2>&1 || tail -1 "$work/log"; }
export SSLC_CONV=ref SSLC_CACHE_DIR=$work/cache

. "$2/tests/tools/method_opts.sh"
steps=5
for m in $(printf '%s\n' "${!opts[@]}" | sort); do
  sets=(); for o in ${opts[$m]}; do sets+=(--set "$o"); done
  plan=$work/$m.plan
  if ! "$sslc" compile "$m" ${vit_only[$m]:---backbone resnet18} --width 0.125 --image-size 16 --batch 4 "${sets[@]}" \
       --targets cpu,cuda --cuda-arch sm_90 -o "$plan" >"$work/log" 2>&1; then
    bad "$m: compile: $(tail -1 "$work/log")"; continue
  fi
  e=$(run --device cpu --out "$work/$m-cpu")
  [ -z "$e" ] || { bad "$m: cpu run: $e"; continue; }
  # the stand-in runs each fused kernel segment from the cpu backend's JIT module of this plan:
  # the newest entry of the shared cache (which also keeps NVRTC's device-op CUBIN across plans)
  export SSLC_FAKECUDA_KERNELS=$(ls -t "$SSLC_CACHE_DIR"/*.kso | head -1)
  cp "$SSLC_FAKECUDA_KERNELS" "$work/$m.kso"
  e=$(standin run --device cuda --out "$work/$m-cuda")
  if [ -n "$e" ]; then bad "$m: cuda run: $e"; continue; fi
  if cmp -s "$work/$m-cpu/checkpoint.safetensors" "$work/$m-cuda/checkpoint.safetensors"; then
    ok "$m: $steps steps on cuda (graph replay) bit-identical to cpu"
  else
    bad "$m: cuda (graph replay) checkpoint differs from cpu after $steps steps"
  fi
  if [ "$m" = simclr ] || [ "$m" = byol ] || [ "$m" = swav ]; then
    e=$(SSLC_CUDA_GRAPH=0 standin run --device cuda --out "$work/$m-plain")
    if [ -z "$e" ] && cmp -s "$work/$m-cpu/checkpoint.safetensors" "$work/$m-plain/checkpoint.safetensors"; then
      ok "$m: plain launches (SSLC_CUDA_GRAPH=0) bit-identical too"
    else bad "$m: plain launches: ${e:-checkpoint differs}"; fi
  fi
  unset SSLC_FAKECUDA_KERNELS
done

# a plan compiled without --targets cuda (what sslc train makes): no CUBIN, and its stored kernels
# keep no expressions, so the backend builds the step again and NVRTC compiles that step's CUDA
# source (it failed before with 'identifier "e0" is undefined'); a rebuilt step need not keep the
# stored one's order of sums, so the losses are compared to 1e-4, not bit for bit
plan=$work/cpu-only.plan
if "$sslc" compile simclr --width 0.125 --image-size 16 --batch 4 -o "$plan" >"$work/log" 2>&1 &&
   e=$(run --device cpu --out "$work/co-cpu") && [ -z "$e" ]; then
  export SSLC_FAKECUDA_KERNELS=$(ls -t "$SSLC_CACHE_DIR"/*.kso | head -1)
  e=$(standin run --device cuda --out "$work/co-cuda")
  unset SSLC_FAKECUDA_KERNELS
  if [ -z "$e" ] && /usr/bin/python3 - "$work/co-cpu/metrics.jsonl" "$work/co-cuda/metrics.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(f) if '"loss"' in l] for f in sys.argv[1:3])
assert len(a) == len(b) == 5, (a, b)
assert all(abs(x - y) <= 1e-4 * abs(x) for x, y in zip(a, b)), (a, b)
PY
  then ok "a plan without --targets cuda runs on cuda (kernels made by NVRTC at run time), losses as cpu's"
  else bad "plan without --targets cuda on cuda: ${e:-losses differ}"; fi
else bad "cpu-only plan: $(tail -1 "$work/log")"; fi

# checkpoints cross between the backends: 2 steps on one, the rest on the other
export SSLC_FAKECUDA_KERNELS=$work/simclr.kso
plan=$work/simclr.plan
"$sslc" run "$plan" --data fake:64 --steps $steps --seed 5 --stop-after 2 --device cpu --out "$work/x1" >/dev/null 2>&1
if standin "$sslc" run --resume "$work/x1" --device cuda >"$work/log" 2>&1 &&
   cmp -s "$work/x1/checkpoint.safetensors" "$work/simclr-cpu/checkpoint.safetensors"; then
  ok "a cpu checkpoint resumed on cuda: bit-identical to the uninterrupted run"
else bad "cpu -> cuda resume: $(tail -1 "$work/log")"; fi
standin "$sslc" run "$plan" --data fake:64 --steps $steps --seed 5 --stop-after 2 --device cuda --out "$work/x2" >/dev/null 2>&1
if "$sslc" run --resume "$work/x2" --device cpu >"$work/log" 2>&1 &&
   cmp -s "$work/x2/checkpoint.safetensors" "$work/simclr-cpu/checkpoint.safetensors"; then
  ok "a cuda checkpoint resumed on the cpu: bit-identical to the uninterrupted run"
else bad "cuda -> cpu resume: $(tail -1 "$work/log")"; fi

# sslc devices PLAN: the device the driver reports and which CUBIN of the plan runs on it
if standin "$sslc" devices "$plan" | grep -q "^cuda:0 sslc CUDA stand-in, sm_90" &&
   standin "$sslc" devices "$plan" | grep -q "cuda:0 runs its sm_90 CUBIN"; then
  ok "sslc devices PLAN names the device and the CUBIN that runs on it"
else bad "sslc devices PLAN: $(standin "$sslc" devices "$plan" 2>&1 | tail -2 | tr '\n' ' ')"; fi

# refusals, one line each: no GPU (the real driver library is absent here or has no device),
# a device too small for the step
expect_error "no GPU: --device cuda refused in one line" "--device cuda" \
  env SSLC_CUDA_DRIVER=/nonexistent/libcuda.so.1 "$sslc" run "$plan" --data fake:64 --steps 1 --device cuda --out "$work/r1"
expect_error "too little device memory: refused before the first step, with the sizes" "MiB of device memory" \
  env SSLC_FAKECUDA_MEM=4000000 SSLC_CUDA_DRIVER=$fake SSLC_CUBLAS_LIB=$fake SSLC_CUDNN_LIB=$fake \
  "$sslc" run "$plan" --data fake:64 --steps 1 --device cuda --out "$work/r2"
expect_error "--precision tf32 on the cpu refused in one line" "precision tf32 is for --device cuda" \
  "$sslc" run "$plan" --data fake:64 --steps 1 --precision tf32 --out "$work/r3"
expect_error "an unknown --precision lists the choices" "f32, tf32" \
  "$sslc" run "$plan" --data fake:64 --steps 1 --precision bf8 --out "$work/r4"
e=$(standin run --device cuda --precision tf32 --out "$work/tf32")
[ -z "$e" ] && ok "--precision tf32 runs on cuda" || bad "--precision tf32 on cuda: $e"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

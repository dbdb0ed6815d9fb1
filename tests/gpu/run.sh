#!/bin/bash
# The cuda backend on a real GPU (issue 17), in one script of at most ~8 minutes for the lent GPU
# machine. Prints one table and writes every log under $OUT.
#   1. the devices sslc sees
#   2. 5 steps of every method on cuda against cpu from the same initialization
#      (loss <= 1e-5 relative every step, parameters and state <= 1e-4; float32, no TF32)
#   3. CUDA Graph replay bit-identical to plain launches (SSLC_CUDA_GRAPH=0); NCCL on one GPU:
#      every collective of the NCCL communicator on device memory (tests/mpi/test_comm_nccl.c),
#      and SimCLR under mpirun -np 1 (NCCL opened) against the plain cuda run, bit for bit
#   4. the SimCLR and BYOL PyTorch oracles against `sslc step --device cuda`
#   5. compute-sanitizer memcheck over 3 steps of SimCLR, where the machine has it
#   6. SimCLR step time and peak device memory against PyTorch eager and torch.compile
#      (bench/simclr_bench_cuda.py)
# Usage: tests/gpu/run.sh [SSLC_BINARY]   (default: gpu-carry/sslc from tests/gpu/pack.sh,
# else build/sslc). Libraries: gpu-carry/lib (Debian's, carried), the nvidia-* wheels of the
# machine's Python (cuBLAS, cuDNN, NVRTC) and /usr/local/cuda. SSLC_GPU_STANDIN=/path/to/
# libsslc_fakecuda.so runs everything against the CI stand-in instead (how this script is
# tried before it meets a GPU; steps 4-6 are then skipped).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/sslc-gpu}
mkdir -p "$OUT"
sslc=${1:-}
if [ -z "$sslc" ]; then
  if [ -x "$root/gpu-carry/sslc" ]; then sslc=$root/gpu-carry/sslc; else sslc=$root/build/sslc; fi
fi
sslc=$(realpath "$sslc")
py=${PYTHON:-python3}
if [ -f "$root/gpu-carry/lib.tar.xz" ] && [ ! -d "$root/gpu-carry/lib" ]; then
  tar -C "$root/gpu-carry" -xJf "$root/gpu-carry/lib.tar.xz"
fi
libs="$root/gpu-carry/lib"
for d in $($py -c 'import sys, glob, os; print(" ".join(sorted({os.path.dirname(p) for s in sys.path for p in glob.glob(os.path.join(s, "nvidia", "*", "lib", "*.so*"))})))' 2>/dev/null); do
  libs="$libs:$d"
done
export LD_LIBRARY_PATH="$libs:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export SSLC_CACHE_DIR=${SSLC_CACHE_DIR:-$OUT/cache} OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}
standin=${SSLC_GPU_STANDIN:-}
if [ -n "$standin" ]; then
  export SSLC_CUDA_DRIVER=$standin SSLC_CUBLAS_LIB=$standin SSLC_CUDNN_LIB=$standin SSLC_NCCL_LIB=$standin
fi
rows=()
row() { rows+=("$(printf '%-44s %-5s %s' "$1" "$2" "$3")"); echo "$1: $2 $3" >>"$OUT/summary.log"; }
t0=$(date +%s)

# 1. devices
"$sslc" devices >"$OUT/devices.log" 2>&1
if grep -q "^cuda:0" "$OUT/devices.log" || [ -n "$standin" ]; then
  row "devices" ok "$(grep -m1 '^cuda:0' "$OUT/devices.log" || echo "stand-in $standin")"
else
  row "devices" FAIL "$(grep '^cuda' "$OUT/devices.log")"
fi

# 2. all methods, cuda against cpu
declare -A opts=(
  [barlow_twins]="projection_dim=64 hidden_dim=64" [byol]="projection_dim=32 hidden_dim=64"
  [dino]="projection_dim=64 hidden_dim=64 bottleneck_dim=32 num_crops=2" [moco]="K=256 projection_dim=32"
  [mocov2]="K=256 projection_dim=32" [mocov3]="projection_dim=32 hidden_dim=64" [simclr]="projection_dim=32"
  [simclrv2]="projection_dim=32" [simsiam]="projection_dim=32 hidden_dim_proj=32 hidden_dim_pred=16"
  [supcon]="projection_dim=32" [swav]="projection_dim=32 hidden_dim=64 num_prototypes=64 num_crops=2"
  [vicreg]="projection_dim=64 hidden_dim=64"
  [nnclr]="queue_size=256 proj_hidden_dim=64 proj_output_dim=32 pred_hidden_dim=64"
  [mae]="decoder_embed_dim=32 decoder_depth=1 decoder_num_heads=2"
)
for m in $(printf '%s\n' "${!opts[@]}" | sort); do
  sets=(); for o in ${opts[$m]}; do sets+=(--set "$o"); done
  plan=$OUT/$m.plan
  log=$OUT/$m.log
  bb=(--backbone resnet18 --width 0.25); [ "$m" = mae ] && bb=(--backbone vit-tiny --width 0.25 --depth 2) # ViT-only
  if ! "$sslc" compile "$m" "${bb[@]}" --image-size 32 --batch 32 "${sets[@]}" \
       --targets cpu,cuda -o "$plan" >"$log" 2>&1; then
    row "$m: cuda vs cpu, 5 steps" FAIL "compile: $(tail -1 "$log")"; continue
  fi
  SSLC_CONV=ref "$sslc" run "$plan" --data fake:256 --steps 5 --seed 3 --out "$OUT/$m-cpu" >>"$log" 2>&1
  [ -n "$standin" ] && export SSLC_FAKECUDA_KERNELS=$(ls -t "$SSLC_CACHE_DIR"/*.kso | head -1)
  if ! "$sslc" run "$plan" --device cuda --data fake:256 --steps 5 --seed 3 --out "$OUT/$m-cuda" >>"$log" 2>&1; then
    row "$m: cuda vs cpu, 5 steps" FAIL "$(tail -1 "$log")"; continue
  fi
  r=$($py "$root/tests/gpu/compare_runs.py" "$OUT/$m-cpu" "$OUT/$m-cuda" 2>&1 | tail -1)
  case $r in ok*) row "$m: cuda vs cpu, 5 steps" ok "${r#ok  }" ;; *) row "$m: cuda vs cpu, 5 steps" FAIL "$r" ;; esac
  if [ "$m" = simclr ] || [ "$m" = byol ]; then
    # 3. graph replay against plain launches
    if SSLC_CUDA_GRAPH=0 "$sslc" run "$plan" --device cuda --data fake:256 --steps 5 --seed 3 --out "$OUT/$m-plain" \
         >>"$log" 2>&1 && r=$($py "$root/tests/gpu/compare_runs.py" "$OUT/$m-plain" "$OUT/$m-cuda" --exact 2>&1 | tail -1) &&
       [[ $r == ok* ]]; then
      row "$m: graph replay == plain launches" ok "bit-identical checkpoints and losses"
    else row "$m: graph replay == plain launches" FAIL "${r:-$(tail -1 "$log")}"; fi
  fi
  if [ "$m" = simclr ]; then
    # NCCL on this GPU: the library, its collectives on device memory, one rank of a job
    tn=$(dirname "$sslc")/test_comm_nccl
    [ -x "$tn" ] || tn=$(dirname "$sslc")/tests/test_comm_nccl
    if [ ! -x "$tn" ]; then row "NCCL: every collective on the GPU (1 rank)" FAIL "test_comm_nccl not found beside $sslc"
    elif "$tn" >"$OUT/nccl.log" 2>&1; then
      row "NCCL: every collective on the GPU (1 rank)" ok "$(grep -m1 'NCCL .* opened' "$OUT/nccl.log" | cut -c14-)"
    else row "NCCL: every collective on the GPU (1 rank)" FAIL "$(grep -m1 'FAIL\|test_comm_nccl:' "$OUT/nccl.log")"; fi
    if command -v mpirun >/dev/null; then
      r=""
      # --bind-to none: the plain run's threads (mpirun binds a rank to one core; the stand-in's
      # host arithmetic depends on the thread count, a GPU's does not)
      if OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 1 --bind-to none "$sslc" run "$plan" --device cuda \
           --data fake:256 --steps 5 --seed 3 --out "$OUT/$m-nccl" >"$OUT/$m-nccl.log" 2>&1 &&
         grep -q "collectives over NCCL" "$OUT/$m-nccl.log" &&
         r=$($py "$root/tests/gpu/compare_runs.py" "$OUT/$m-nccl" "$OUT/$m-cuda" --exact 2>&1 | tail -1) && [[ $r == ok* ]]; then
        row "$m: 1 rank under mpirun (NCCL) == plain cuda" ok "bit-identical checkpoints and losses"
      else row "$m: 1 rank under mpirun (NCCL) == plain cuda" FAIL "${r:-$(tail -1 "$OUT/$m-nccl.log")}"; fi
    else
      row "$m: 1 rank under mpirun (NCCL) == plain cuda" skip "no mpirun on this machine"
    fi
  fi
  unset SSLC_FAKECUDA_KERNELS
done

# every fused kernel of every method's plan on the GPU against its C twin, random inputs
kc=$(dirname "$sslc")/cuda_kernel_check
[ -x "$kc" ] || kc=$(dirname "$sslc")/tests/cuda_kernel_check
if [ -x "$kc" ]; then
  [ -n "$standin" ] && export SSLC_FAKECUDA_KERNELS=$(ls -t "$SSLC_CACHE_DIR"/*.kso | head -1)
  plans=("$OUT"/*.plan)
  # the stand-in has one JIT module at a time: the last method's plan's (the loop above runs them sorted)
  [ -n "$standin" ] && plans=("$OUT/$(printf '%s\n' "${!opts[@]}" | sort | tail -1).plan")
  if "$kc" "${plans[@]}" >"$OUT/kernels.log" 2>&1; then
    row "fused kernels on the GPU vs C twins" ok "$(awk '{n += $3} END {print n " segments"}' "$OUT/kernels.log"), all <= 1e-5"
  else row "fused kernels on the GPU vs C twins" FAIL "$(grep -m1 FAIL "$OUT/kernels.log")"; fi
  unset SSLC_FAKECUDA_KERNELS
else
  row "fused kernels on the GPU vs C twins" FAIL "cuda_kernel_check not found beside $sslc"
fi

if [ -z "$standin" ]; then
  # eval on the GPU (encoder features, kNN, the linear probe trained on the engine) against the cpu
  for d in cpu cuda; do
    "$sslc" eval "$OUT/simclr-cuda" --data fake:512 --knn 5 --linear --epochs 5 --device $d --json --quiet \
      >"$OUT/eval-$d.json" 2>"$OUT/eval-$d.log"
  done
  r=$($py "$root/tests/gpu/compare_eval.py" "$OUT/eval-cpu.json" "$OUT/eval-cuda.json" 2>&1 | tail -1)
  case $r in ok*) row "eval --device cuda vs cpu" ok "${r#ok  }" ;; *) row "eval --device cuda vs cpu" FAIL "$r $(tail -1 "$OUT/eval-cuda.log")" ;; esac
  # 4. the PyTorch oracles through sslc step --device cuda (PyTorch on the CPU side of the oracle)
  if $py -c 'import torch, torchvision, numpy' 2>/dev/null; then
    if $py "$root/tests/oracle/simclr_oracle.py" "$sslc" "$OUT/oracle-simclr" --device cuda >"$OUT/oracle-simclr.log" 2>&1; then
      row "SimCLR oracle (sslc step --device cuda)" ok "$(tail -1 "$OUT/oracle-simclr.log")"
    else row "SimCLR oracle (sslc step --device cuda)" FAIL "$(tail -1 "$OUT/oracle-simclr.log")"; fi
    if $py "$root/tests/oracle/methods_oracle.py" byol "$sslc" "$OUT/oracle-byol" --backbone resnet18 --width 0.125 \
         --set projection_dim=16 --set hidden_dim=32 --set tau=0.875 --lr 0.001953125 --momentum 0.875 --device cuda \
         >"$OUT/oracle-byol.log" 2>&1; then
      row "BYOL oracle (sslc step --device cuda)" ok "$(tail -1 "$OUT/oracle-byol.log")"
    else row "BYOL oracle (sslc step --device cuda)" FAIL "$(tail -1 "$OUT/oracle-byol.log")"; fi
  else
    row "PyTorch oracles" skip "no torch/torchvision/numpy for $py"
  fi
  # 5. compute-sanitizer
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
  if [ -n "$cs" ]; then
    if SSLC_CUDA_GRAPH=0 timeout 120 "$cs" --tool memcheck --error-exitcode 3 "$sslc" run "$OUT/simclr.plan" --device cuda \
         --data fake:256 --steps 3 --out "$OUT/sanitizer" >"$OUT/sanitizer.log" 2>&1; then
      row "compute-sanitizer memcheck, 3 steps" ok "$(grep -m1 'ERROR SUMMARY' "$OUT/sanitizer.log")"
    else row "compute-sanitizer memcheck, 3 steps" FAIL "$(grep -m1 'ERROR SUMMARY\|Invalid' "$OUT/sanitizer.log" || tail -1 "$OUT/sanitizer.log")"; fi
  else
    row "compute-sanitizer memcheck" skip "not on this machine"
  fi
  # 6. against PyTorch on the same GPU
  if timeout 240 $py "$root/bench/simclr_bench_cuda.py" "$sslc" --steps 10 >"$OUT/bench.log" 2>&1; then
    row "bench: SimCLR vs PyTorch (see bench.log)" ok "$(grep ratios "$OUT/bench.log" | tr '\n' ' ')"
  else row "bench: SimCLR vs PyTorch" FAIL "$(tail -1 "$OUT/bench.log")"; fi
fi

echo
echo "sslc on $(grep -m1 '^cuda:0' "$OUT/devices.log" || echo "the stand-in") — $(($(date +%s) - t0)) s, logs in $OUT"
printf '%s\n' "${rows[@]}"
nfail=$(printf '%s\n' "${rows[@]}" | grep -c ' FAIL ')
echo "$(printf '%s\n' "${rows[@]}" | grep -c ' ok ') passed, $nfail failed"
[ "$nfail" -eq 0 ]

#!/bin/bash
# The cuda backend's collectives through NCCL (runtime/comm_nccl.c), without a GPU: sslc under
# mpirun with --device cuda against the CUDA and NCCL stand-in (tests/fake_cuda/: host memory,
# each NCCL collective an MPI call on the stand-in's device buffers). It checks the dlopen, the
# bootstrap over MPI, one GPU per local rank, the cuda library-op table's collectives (copies,
# NCCL calls, the mean's scaling, Reduce's zeros) inside the captured CUDA Graph and in plain
# launches. It proves nothing about NCCL's own numerics or speed (tests/gpu/run.sh on a GPU).
#   1. one rank under mpirun (NCCL opened) is bit for bit the plain cuda run, and the cpu run
#   2. two ranks on cuda through NCCL are bit for bit two ranks on the cpu over MPI (the stand-in
#      sums with MPI_SUM, as the cpu path): SimCLR (AllGather, ReduceScatter, AllReduce mean,
#      --sync-bn) and Barlow Twins (AllReduce sum), graph replay and plain launches
#   3. 2 ranks x B/2 against 1 rank x B on cuda (tests/mpi/dp_equiv.py --standin): loss,
#      gradients, parameters and state after 3 steps within 1e-5
#   4. one-line errors: NCCL missing, more ranks on a machine than GPUs (no hang)
# Args: SSLC_BINARY SOURCE_DIR MPIRUN...
set -u
sslc=$(realpath "$1"); src=$2; shift 2
mpirun="$* --quiet"
. "$src/tests/tools/cli_checks.sh"
fake=$(dirname "$sslc")/tests/libsslc_fakecuda.so
[ -f "$fake" ] || { echo "FAIL the stand-in $fake was not built"; exit 1; }
if ! "$sslc" devices | grep -q "^nvrtc  [0-9]"; then
  echo "skip: NVRTC (the CUDA toolkit) is not installed: the cuda backend compiles its kernels with it"
  exit 77
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 SSLC_CONV=ref
standin() {
  SSLC_CUDA_DRIVER=$fake SSLC_CUBLAS_LIB=$fake SSLC_CUDNN_LIB=$fake SSLC_NCCL_LIB=${nccl-$fake} \
    SSLC_FAKECUDA_DEVICES=2 SSLC_FAKECUDA_KERNELS=$kso "$@"
}
# run NAME [LAUNCHER...] -- [OPTIONS]: 3 steps of $plan into $work/NAME; prints the log's last line on failure
run() {
  local name=$1; shift
  local launch=()
  while [ "$1" != -- ]; do launch+=("$1"); shift; done; shift
  "${launch[@]}" "$sslc" run "$plan" --data fake:64 --steps 3 --seed 5 --out "$work/$name" "$@" >"$work/$name.log" 2>&1 ||
    tail -1 "$work/$name.log"
}
same() { cmp -s "$work/$1/checkpoint.safetensors" "$work/$2/checkpoint.safetensors"; }
net=(--backbone convnet --width 0.25 --image-size 16 --targets cpu,cuda --cuda-arch sm_90)

# 1. one rank
plan=$work/one.plan
"$sslc" compile simclr "${net[@]}" --batch 4 --set projection_dim=16 -o "$plan" >/dev/null || bad "compile one.plan"
e=$(run cpu1 -- --device cpu); [ -z "$e" ] || bad "1 rank cpu: $e"
kso=$(ls -t "$SSLC_CACHE_DIR"/*.kso | head -1) # the stand-in runs the cpu JIT module's kernels
kso_one=$kso
e=$(run cuda1 standin -- --device cuda); [ -z "$e" ] || bad "1 rank cuda: $e"
e=$(run nccl1 standin $mpirun -np 1 -- --device cuda)
if [ -n "$e" ]; then bad "1 rank cuda under mpirun: $e"
elif ! grep -q "collectives over NCCL 2.28.5 (1 rank)" "$work/nccl1.log"; then bad "1 rank under mpirun did not open NCCL"
elif same cuda1 nccl1 && same cpu1 nccl1; then ok "1 rank under mpirun (NCCL opened) == plain cuda == cpu, bit for bit"
else bad "1 rank under mpirun: checkpoint differs from the plain cuda run"; fi

# 2. two ranks: cuda through NCCL against the cpu over MPI
for m in simclr barlow_twins; do
  plan=$work/$m-2.plan
  sets=(--set projection_dim=16); [ $m = barlow_twins ] && sets+=(--set hidden_dim=32)
  "$sslc" compile $m "${net[@]}" --batch 2 --ranks 2 --sync-bn "${sets[@]}" -o "$plan" >/dev/null || bad "compile $m"
  e=$(run $m-cpu2 $mpirun -np 2 -- --device cpu); [ -z "$e" ] || { bad "$m 2 ranks cpu: $e"; continue; }
  kso=$(ls -t "$SSLC_CACHE_DIR"/*.kso | head -1)
  [ $m = simclr ] && kso_simclr=$kso
  e=$(run $m-nccl2 standin $mpirun -np 2 -- --device cuda)
  if [ -n "$e" ]; then bad "$m 2 ranks cuda: $e"
  elif ! grep -q "collectives over NCCL 2.28.5 (2 ranks)" "$work/$m-nccl2.log"; then bad "$m: NCCL not named"
  elif same $m-cpu2 $m-nccl2; then ok "$m: 2 ranks on cuda through NCCL (graph replay) == 2 ranks on the cpu over MPI, bit for bit"
  else bad "$m: 2 ranks on cuda through NCCL differ from the cpu over MPI"; fi
  e=$(SSLC_CUDA_GRAPH=0 run $m-plain2 standin $mpirun -np 2 -- --device cuda)
  if [ -z "$e" ] && same $m-cpu2 $m-plain2; then ok "$m: the same with plain launches (SSLC_CUDA_GRAPH=0)"
  else bad "$m plain launches: ${e:-checkpoint differs}"; fi
done

# 3. 2 ranks x 4 against 1 rank x 8 on cuda (dp_equiv makes each plan's kernel module itself)
if /usr/bin/python3 "$src/tests/mpi/dp_equiv.py" "$sslc" "$mpirun" "$work/eq" simclr --set projection_dim=16 \
     --tol 1e-5 --floor 0 --device cuda --standin "$fake" >"$work/eq.log" 2>&1; then
  ok "2 ranks x 4 == 1 rank x 8 on cuda through NCCL: $(tail -1 "$work/eq.log")"
else bad "dp_equiv on cuda: $(grep -v '^ ' "$work/eq.log" | tail -3 | tr '\n' ' ')"; fi

# 4. errors, one line each
plan=$work/one.plan
kso=$kso_one
nccl=/nonexistent/libnccl.so.2 expect_error "NCCL missing: one line naming the fix" "pip install nvidia-nccl-cu12" \
  standin $mpirun -np 1 "$sslc" run "$plan" --data fake:64 --steps 1 --device cuda --out "$work/e1"
plan=$work/simclr-2.plan
expect_error "2 ranks on a machine with 1 GPU: one line, the job ends" "start at most 1 rank(s) per machine" \
  timeout 60 env SSLC_CUDA_DRIVER=$fake SSLC_CUBLAS_LIB=$fake SSLC_CUDNN_LIB=$fake SSLC_NCCL_LIB=$fake \
  SSLC_FAKECUDA_DEVICES=1 SSLC_FAKECUDA_KERNELS=$kso_simclr $mpirun -np 2 "$sslc" run "$plan" --data fake:64 --steps 1 \
  --device cuda --out "$work/e2"
# the machine's real NCCL, where one is installed: every entry point sslc declares resolves and the
# bootstrap reaches ncclCommInitRank, which then fails without a GPU (the stand-in's "device")
if [ -n "$(ldconfig -p 2>/dev/null | grep 'libnccl.so.2 ')" ]; then
  plan=$work/one.plan
  nccl="" expect_error "the installed libnccl.so.2 loads (its init fails on the stand-in): one line" \
    "NCCL CommInitRank failed" standin $mpirun -np 1 "$sslc" run "$plan" --data fake:64 --steps 1 --device cuda --out "$work/e3"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

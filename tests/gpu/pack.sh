#!/bin/bash
# Packs what tests/gpu/run.sh needs on the lent GPU machine, which has the CUDA toolkit, the
# driver and Python with PyTorch but none of Debian's libraries: build/sslc and the shared
# libraries it links (not the C/C++ runtime, which that machine has), as gpu-carry/sslc and
# gpu-carry/lib.tar.xz (run.sh unpacks it). Carry the folder with the device tool:
#   tests/gpu/pack.sh && run(carry=["gpu-carry"], command="tests/gpu/run.sh")
# Usage: tests/gpu/pack.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
out=$root/gpu-carry
rm -rf "$out"
mkdir -p "$out/lib"
cp "$build/sslc" "$out/sslc"
cp "$build/tests/cuda_kernel_check" "$out/cuda_kernel_check"
cp "$build/tests/test_comm_nccl" "$out/test_comm_nccl" # NCCL's collectives on the GPU, one rank
ldd "$build/sslc" | awk '/=> \// {print $3}' | while read -r lib; do
  case $(basename "$lib") in
    libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|ld-linux*) ;; # the machine's own
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
tar -C "$out" -cJf "$out/lib.tar.xz" lib
rm -rf "$out/lib"
du -sh "$out"/* | sed 's/^/  /'
echo "gpu-carry: $(du -sm "$out" | cut -f1) MiB (the device tool carries at most 64 MiB)"

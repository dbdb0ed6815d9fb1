#!/bin/bash
# Learning (label `learning`, not in the default suite): the raw-pixel baseline of `sslc eval`
# on Fashion-MNIST must reach the accuracy of a plain logistic regression and kNN on pixels
# (PyTorch reference: linear 83.9 %, kNN-20 84.6 %): linear >= 82 %, kNN-20 >= 83 %.
# Args: SSLC_BINARY SOURCE_DIR
set -u
sslc=$1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export SSLC_CACHE_DIR=$work/cache OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
dir=/usr/share/datasets/fashion-mnist
if [ ! -e "$dir/train-images-idx3-ubyte.gz" ] && [ ! -e "$dir/train-images-idx3-ubyte" ]; then
  echo "SKIP: no Fashion-MNIST in $dir (Debian package dataset-fashion-mnist)"; exit 77
fi
"$sslc" compile simclr --backbone resnet18 --width 0.25 --image-size 28 --channels 1 -o "$work/p.plan" >/dev/null || exit 1
start=$(date +%s.%N)
"$sslc" eval "$work/p.plan" --data fashion-mnist --features pixels --json >"$work/out" || exit 1
end=$(date +%s.%N)
/usr/bin/python3 - "$work/out" "$start" "$end" <<'PY'
import json, sys
j = json.loads(open(sys.argv[1]).read())
print(f"pixels: linear top-1 {j['linear_top1']:.2f} %, knn-20 top-1 {j['knn_top1']:.2f} %, "
      f"{float(sys.argv[3]) - float(sys.argv[2]):.1f} s")
sys.exit(0 if j["linear_top1"] >= 82 and j["knn_top1"] >= 83 else 1)
PY

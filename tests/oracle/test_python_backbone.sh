#!/bin/bash
# The Python package (python/sslc): load_backbone on run directories of every backbone kind matches
# `sslc features` and `sslc embed` to 1e-5 (tests/oracle/python_backbone.py).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1 src=$2
py=${SSLC_TORCH_PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import torch, torchvision, PIL, numpy' 2>/dev/null; then
    echo "SKIP: $py lacks torch/torchvision/PIL: run .ci/setup (python3-torch, python3-torchvision)"
    exit 77
fi
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHONPATH="$src/python" "$py" -W ignore "$src/tests/oracle/python_backbone.py" "$sslc" "$work"

#!/bin/bash
# Augmentation ops and whole recipe views vs torchvision.transforms.functional (torchvision 0.14
# tensor semantics) on the same explicit parameters; tolerances are justified in the script.
# Skipped (exit 0 with a note) where python3-torchvision is missing. Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
probe=$(dirname "$sslc")/tests/aug_probe
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  echo "SKIP: python3-torch / python3-torchvision not installed"; exit 0
fi
exec /usr/bin/python3 "$src/tests/oracle/augment_oracle.py" "$probe"

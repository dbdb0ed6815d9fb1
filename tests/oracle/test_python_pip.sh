#!/bin/bash
# The Python package installs from the checkout with pip, offline (Debian's setuptools, no build
# isolation, no index), into a venv that sees Debian's torch; the installed `sslc` (not the
# checkout's) loads a run's encoder and gives what `sslc features` gives.
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$(realpath "$1") src=$(realpath "$2")
py=${SSLC_TORCH_PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import torch, torchvision, numpy, setuptools, venv' 2>/dev/null; then
    echo "SKIP: $py lacks torch/torchvision/setuptools/venv: run .ci/setup"
    exit 77
fi
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# a copy: pip builds in place and would leave build/ and *.egg-info in the checkout
cp -r "$src/python" "$work/pkg"
"$py" -m venv --system-site-packages "$work/venv"
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$work/venv/bin/pip" install --no-build-isolation --no-deps \
    "$work/pkg" >"$work/pip.log" 2>&1 || { cat "$work/pip.log"; fail "pip install ./python"; }
rm -rf "$work/pkg"
where=$(cd "$work" && "$work/venv/bin/python" -W ignore -c 'import sslc; print(sslc.__file__)')
case $where in "$work/venv/"*) echo "ok: installed at $where" ;; *) fail "import sslc found $where, not the venv's" ;; esac

"$sslc" train simclr --backbone resnet18 --width 0.125 --data fake:8:3x16x16 --batch 4 --steps 1 --targets none \
    --no-eval --out "$work/run" >/dev/null || fail "sslc train"
cd "$work"
"$work/venv/bin/python" -W ignore - "$sslc" "$work" "$src/tests/oracle" <<'PY'
import subprocess, sys
import numpy as np, torch
sys.path.insert(0, sys.argv[3])
import st
import sslc
work = sys.argv[2]
model = sslc.load_backbone(f"{work}/run")
x = np.random.default_rng(0).normal(0, 1, (3, 3, 16, 16)).astype(np.float32)
st.save(f"{work}/x.safetensors", {"images": x})
subprocess.run([sys.argv[1], "features", f"{work}/run", "--inputs", f"{work}/x.safetensors", "-o", f"{work}/f.safetensors"],
               check=True, capture_output=True)
with torch.no_grad():
    d = float(np.abs(model(torch.from_numpy(x)).numpy() - st.load(f"{work}/f.safetensors")["features"]).max())
print(f"installed package vs sslc features: max abs diff {d:.3g}")
sys.exit(0 if d <= 1e-5 else 1)
PY

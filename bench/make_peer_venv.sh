#!/bin/sh
# Makes bench/.peer-venv: PyTorch 2.x from PyPI, isolated from Debian's
# python3-torch 1.13 (no system site packages), for bench/simclr_bench.py's PyPI peers.
# Not part of the test suite; the wheel and its dependencies take several GB.
# usage: bench/make_peer_venv.sh [PYTHON]   (default /usr/bin/python3; TORCH_SPEC overrides "torch")
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.peer-venv"
py=${1:-/usr/bin/python3}
spec=${TORCH_SPEC:-torch}
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --upgrade pip >/dev/null
"$venv/bin/python" -m pip install "$spec"
"$venv/bin/python" - <<'PY'
import sys, torch
assert "dist-packages" not in torch.__file__, f"picked up Debian's torch at {torch.__file__}"
print(f"peer venv ready: Python {sys.version.split()[0]}, torch {torch.__version__} ({torch.__file__})")
PY

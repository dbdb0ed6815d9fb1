#!/bin/bash
# Cross-check with Python's safetensors library: it reads what sslc writes, and sslc reads what
# it writes. Skipped (passes with a note) when no Python with `safetensors` and `numpy` is
# found; set SSLC_PYTHON to choose the interpreter (default: python3).
# Usage (ctest): test_safetensors_py.sh <path to sslc> <source dir>
set -euo pipefail
sslc=$1
t=$(dirname "$sslc")/tests/test_safetensors
py=${SSLC_PYTHON:-python3}
if ! "$py" -c 'import safetensors, numpy' 2>/dev/null; then
    echo "SKIP: $py has no safetensors/numpy module (set SSLC_PYTHON to a Python that has them)"
    exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$t" export "$dir"
"$py" - "$dir" <<'PY'
import math, sys
import numpy as np
from safetensors.numpy import save_file
from safetensors import safe_open
d = sys.argv[1]
with safe_open(f"{d}/sslc.safetensors", framework="np") as f:
    assert f.metadata() == {"format": "pt", "sslc.step": "12"}, f.metadata()
    # numpy has no bfloat16: check that tensor's header through a slice, read the others
    assert f.get_slice("half").get_dtype() == "BF16" and f.get_slice("half").get_shape() == [2]
    t = {k: f.get_tensor(k) for k in f.keys() if k != "half"}
    assert len(f.keys()) == 9, f.keys()
w = t["enc.w"]
assert w.dtype == np.float32 and w.shape == (2, 3), (w.dtype, w.shape)
assert w.ravel().tolist() == [1.5, -2.25, 3.0, np.float32(1e-30), -0.0, 65504.0]
assert t["a.f64"].tolist() == [math.pi, -1e300, 4.9e-324]
assert t["bn.num_batches_tracked"].dtype == np.int64
assert t["bn.num_batches_tracked"].tolist() == [-9007199254740993, 2**63 - 1]
assert t["enc.u8"].tolist() == [0, 1, 127, 128, 255]
assert t["i32"].shape == (3, 1) and t["i32"].ravel().tolist() == [-1, 0, 2147483647]
assert t["scalar"].shape == () and t["scalar"] == 42
assert t["empty"].shape == (0, 4)
assert t['we"ird\\name \u00fc\n'].tolist() == [42.0]
save_file({"w": (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(2, 3),
           "idx": np.array([3, -5], dtype=np.int64),
           "d": np.array([math.pi]),
           "s": np.array(7, dtype=np.float32)},
          f"{d}/py.safetensors", metadata={"format": "np"})
print("python read the sslc file and wrote one")
PY
"$t" check "$dir/py.safetensors"

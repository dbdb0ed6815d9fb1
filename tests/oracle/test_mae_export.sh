#!/bin/bash
# MAE's encoder exports to ONNX without its decoder: a 2-step MAE run on vit-tiny (fake data)
# exported from its run directory; onnx's checker accepts the model, it holds none of the
# decoder's tensors (decoder_*, mask_token) and ONNX Runtime's features equal `sslc features`
# on the same images (max abs diff <= 1e-4). Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1
. "$2/tests/oracle/onnx_env.sh"
"$sslc" compile mae --backbone vit-tiny --width 0.125 --depth 1 --image-size 16 --channels 3 --batch 8 \
    --set decoder_embed_dim=16 --set decoder_depth=1 --set decoder_num_heads=2 -o "$work/mae.plan" >/dev/null
"$sslc" run "$work/mae.plan" --data fake:64 --steps 2 --out "$work/run" >/dev/null
# --raw-input: sslc features takes normalized tensors
"$sslc" export "$work/run" --raw-input -o "$work/mae.onnx"
"$py" - "$sslc" "$work" "$src" <<'PY'
import subprocess, sys
import numpy as np, onnx, onnxruntime as ort
sslc, work = sys.argv[1], sys.argv[2]
sys.path.insert(0, f"{sys.argv[3]}/tests/oracle")
import st
m = onnx.load(f"{work}/mae.onnx")
onnx.checker.check_model(m, full_check=True)
names = [i.name for i in m.graph.initializer]
bad = [n for n in names if "decoder" in n or "mask_token" in n]
assert not bad, f"decoder tensors in the export: {bad[:4]}"
x = np.random.default_rng(0).standard_normal((5, 3, 16, 16), dtype=np.float32)
y = ort.InferenceSession(f"{work}/mae.onnx", providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
st.save(f"{work}/x.safetensors", {"images": x})
subprocess.run([sslc, "features", f"{work}/run", "--inputs", f"{work}/x.safetensors", "-o", f"{work}/f.safetensors"],
               check=True, stdout=subprocess.DEVNULL)
f = st.load(f"{work}/f.safetensors")["features"]
d = float(np.max(np.abs(f - y)))
good = d <= 1e-4 and y.shape == (5, 24)
print(f"{'ok  ' if good else 'FAIL'} mae encoder export: {len(names)} tensors, no decoder; output {y.shape}, "
      f"ONNX Runtime vs sslc features max abs diff {d:.2e}")
sys.exit(0 if good else 1)
PY

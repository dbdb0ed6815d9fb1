#!/bin/bash
# The CLI as a user meets it: compile/inspect/step/run on small plans, the issue-3 numbers for
# SimCLR with a CIFAR ResNet-18 at batch 128 (launches <= 1/3 of graph nodes, arena <= 1/2 of
# the intermediate buffers), and one clear line + non-zero exit for every kind of bad input.
# Args: SSLC_BINARY SOURCE_DIR
set -u
sslc=$1
. "$(dirname "$0")/../tools/cli_checks.sh"

"$sslc" --version | grep -q '^sslc ' && ok "--version" || bad "--version"
"$sslc" --help | grep -q 'compile' && ok "--help" || bad "--help"
"$sslc" methods | grep -q 'temperature' && ok "methods lists options" || bad "methods"

# --augment none: the step checks below feed views.0/views.1 (tests/cli/test_augment_cli.sh covers images)
"$sslc" compile simclr --backbone resnet18 --image-size 16 --batch 8 --augment none -o "$work/s.plan" >/dev/null && ok "compile" || bad "compile"
"$sslc" inspect "$work/s.plan" --params >"$work/insp" && grep -q 'backbone.layer4.1.bn2.running_var' "$work/insp" &&
  grep -q 'projector.layer1.2.weight' "$work/insp" && ok "inspect lists torchvision/PySSL names" || bad "inspect names"

# issue 3: SimCLR, CIFAR ResNet-18, batch 128
"$sslc" compile simclr --backbone resnet18 --image-size 32 --batch 128 -o "$work/big.plan" >/dev/null
"$sslc" inspect "$work/big.plan" --json >"$work/big.json"
/usr/bin/python3 - "$work/big.json" <<'PY' && ok "resnet18 b128: launches <= nodes/3, arena <= intermediates/2" || bad "fusion/arena targets"
import json, sys
j = json.load(open(sys.argv[1]))
print(f"     nodes {j['nodes']} -> launches {j['launches']} ({j['launches_per_node']:.3f}); arena {j['arena_bytes']/2**20:.0f} MiB "
      f"of {j['intermediate_bytes']/2**20:.0f} MiB ({j['arena_fraction']:.3f})")
sys.exit(0 if j['launches'] * 3 <= j['nodes'] and j['arena_bytes'] * 2 <= j['intermediate_bytes'] else 1)
PY

# the plan holds the compiled step (schedule, memory plan, C kernels) and reports it
/usr/bin/python3 - "$work/big.json" <<'PY' && ok "inspect --json: the stored step" || bad "inspect --json stored step"
import json, sys
j = json.load(open(sys.argv[1]))
print(f"     stored step: {j['fused_kernels']} kernels, C source {j['kernel_c_bytes']} bytes, CUBIN {j['cubins']}")
sys.exit(0 if j['step_stored'] and j['kernel_c_bytes'] > 0 and j['kernel_cuda_bytes'] == 0 and j['cubins'] == [] else 1)
PY

# run: both backends agree on the first losses (same seed, same fake data)
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --batch 8 -o "$work/c.plan" >/dev/null
"$sslc" run "$work/c.plan" --data fake:32 --steps 3 --log-every 1 --device cpu >"$work/cpu.out" 2>&1 &&
"$sslc" run "$work/c.plan" --data fake:32 --steps 3 --log-every 1 --device ref >"$work/ref.out" 2>&1 &&
/usr/bin/python3 - "$work/cpu.out" "$work/ref.out" <<'PY' && ok "run: cpu and ref losses agree" || bad "run cpu vs ref"
import re, sys
a, b = ([float(x) for x in re.findall(r"loss ([0-9.]+)", open(f).read())] for f in sys.argv[1:3])
sys.exit(0 if len(a) == 3 and all(abs(x - y) <= 1e-5 * abs(y) for x, y in zip(a, b)) else 1)
PY

grep -q "step from the plan" "$work/cpu.out" && ok "run: the cpu engine runs the stored step" || bad "run: stored step"
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --batch 8 --targets none -o "$work/n.plan" >/dev/null &&
  "$sslc" inspect "$work/n.plan" | grep -q "the graph only" &&
  "$sslc" run "$work/n.plan" --data fake:32 --steps 1 --device cpu 2>&1 | grep -q "step built" &&
  ok "--targets none: graph only, the runtime builds the step" || bad "--targets none"
if "$sslc" devices | grep -q '^nvrtc  [0-9]'; then
  "$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --batch 8 --targets cpu,cuda -o "$work/g.plan" >/dev/null &&
    "$sslc" inspect "$work/g.plan" | grep -q "CUBIN: sm_80 ([0-9]* bytes), sm_90 ([0-9]* bytes)" &&
    ok "--targets cpu,cuda: CUBIN for sm_80 and sm_90" || bad "--targets cpu,cuda"
  expect_error "run: cuda with CUBIN" "CUBIN for sm_80, sm_90\|no CUDA runtime backend yet" "$sslc" run "$work/g.plan" --device cuda --steps 1
else
  echo "skip --targets cpu,cuda (no NVRTC)"
fi

# bad input: options, plans, tensors
expect_error "unknown command" "unknown command" "$sslc" frobnicate
expect_error "unknown method" "unknown method 'foo'" "$sslc" compile foo -o "$work/x.plan"
expect_error "unknown backbone" "unknown backbone 'vgg'" "$sslc" compile simclr --backbone vgg -o "$work/x.plan"
expect_error "unknown option" "has no option 'tau'" "$sslc" compile simclr --set tau=1 -o "$work/x.plan"
expect_error "bad option value" "temperature must be > 0" "$sslc" compile simclr --set temperature=0 -o "$work/x.plan"
expect_error "bad number" "expects an integer" "$sslc" compile simclr --batch many -o "$work/x.plan"
expect_error "bad optimizer" "unknown optimizer" "$sslc" compile simclr --optimizer adam2 -o "$work/x.plan"
expect_error "missing output" "missing -o" "$sslc" compile simclr
expect_error "missing plan" "No such file\|cannot open\|not found\|does not exist" "$sslc" inspect "$work/none.plan"
head -c 100 "$work/s.plan" >"$work/trunc.plan"
expect_error "truncated plan" "plan" "$sslc" inspect "$work/trunc.plan"
cp "$work/s.plan" "$work/flip.plan"; printf '\xff' | dd of="$work/flip.plan" bs=1 seek=500 conv=notrunc 2>/dev/null
expect_error "bit-flipped plan" "corrupt" "$sslc" inspect "$work/flip.plan"
echo "hello world, not a plan" >"$work/foreign.plan"
expect_error "foreign file" "not an sslc plan" "$sslc" inspect "$work/foreign.plan"
cp "$work/s.plan" "$work/ver.plan"; printf '\x63' | dd of="$work/ver.plan" bs=1 seek=8 conv=notrunc 2>/dev/null
expect_error "other format version" "version" "$sslc" inspect "$work/ver.plan"
printf '\x01' | dd of="$work/ver.plan" bs=1 seek=8 conv=notrunc 2>/dev/null
expect_error "old format version" "plan format version 1, this sslc reads 2: recompile the plan" "$sslc" inspect "$work/ver.plan"
expect_error "run: bad device" "unknown device" "$sslc" run "$work/c.plan" --device tpu
expect_error "run: cuda absent" "CUDA\|cuda" "$sslc" run "$work/c.plan" --device cuda --steps 1
expect_error "run: cuda, no CUBIN" "no CUBIN" "$sslc" run "$work/c.plan" --device cuda --steps 1
expect_error "compile: bad --targets" "--targets: expected cpu, cpu,cuda or none, got 'gpu'" "$sslc" compile simclr --targets gpu -o "$work/x.plan"
expect_error "compile: bad --cuda-arch" "--cuda-arch: expected GPU architectures like sm_80,sm_90, got 'ampere'" "$sslc" compile simclr --cuda-arch ampere -o "$work/x.plan"
expect_error "step: missing inputs" "missing --inputs" "$sslc" step "$work/s.plan" --dump "$work/d.st"
/usr/bin/python3 -c "
import sys; sys.path.insert(0, '$2/tests/oracle'); import st, numpy as np
st.save('$work/x.st', {'views.0': np.zeros((8,3,16,16), np.float32)})
st.save('$work/wrong.st', {'views.0': np.zeros((8,3,16,16), np.float32), 'views.1': np.zeros((4,3,16,16), np.float32)})"
expect_error "step: missing view" "missing input 'views.1'" "$sslc" step "$work/s.plan" --inputs "$work/x.st" --dump "$work/d.st"
expect_error "step: wrong shape" "has shape \[4,3,16,16\], the plan expects \[8,3,16,16\]" "$sslc" step "$work/s.plan" --inputs "$work/wrong.st" --dump "$work/d.st"
printf 'garbage' >"$work/garbage.st"
expect_error "step: corrupt tensors" "safetensors\|header\|too short\|truncated" "$sslc" step "$work/s.plan" --inputs "$work/garbage.st" --dump "$work/d.st"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

"""The Python package (python/sslc) against sslc: load_backbone on run directories of every backbone
kind gives the features `sslc features` (same float inputs) and `sslc embed` (PNG files through
model.transform) compute, to 1e-5; width-1 ResNet-18 is torchvision's own resnet18(); ViTs are
torchvision's VisionTransformer; backbone.json records what the plan used; missing or unusable
inputs (no backbone.json, a plan file, an imported backbone, a damaged checkpoint) are refused with
one clear message.

usage: python_backbone.py SSLC WORKDIR   (python/ on PYTHONPATH or the package installed)"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
import sslc  # noqa: E402

TOL = 1e-5  # relative to the largest |feature| when that exceeds 1 (float32 sums of that size)
SSLC, WORK = sys.argv[1], sys.argv[2]
T0 = time.time()
torch.set_num_threads(2)

# (tag, method and its options, compile options, channels, image size)
CONFIGS = [
    ("resnet18-w0.25", ["simclr"], ["--backbone", "resnet18", "--width", "0.25"], 1, 16),
    ("resnet18-w1", ["simclr"], ["--backbone", "resnet18", "--width", "1", "--cifar-stem", "off"], 3, 32),
    ("resnet34", ["simclr"], ["--backbone", "resnet34", "--width", "0.125"], 3, 16),
    ("resnet50", ["simclr"], ["--backbone", "resnet50", "--width", "0.125", "--cifar-stem", "off"], 1, 32),
    ("convnet", ["byol", "--set", "hidden_dim=32", "--set", "projection_dim=16"],
     ["--backbone", "convnet", "--width", "0.25", "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"], 3, 16),
    ("vit-tiny", ["simclr"], ["--backbone", "vit-tiny"], 1, 16),
    ("vit-small", ["dino", "--set", "num_crops=0", "--set", "hidden_dim=32", "--set", "bottleneck_dim=16",
                   "--set", "projection_dim=16"], ["--backbone", "vit-small", "--width", "0.25", "--depth", "2"], 3, 16),
]


def log(msg):
    print(f"[{time.time() - T0:5.1f}s] {msg}", flush=True)


def fail(msg):
    raise SystemExit(f"FAIL: {msg}")


def sslc_cmd(*args):
    r = subprocess.run([SSLC] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"sslc {' '.join(map(str, args))}\n{r.stdout}{r.stderr}")
    return r


def device(tag):
    """the default model on the cpu engine (JIT kernels, oneDNN); the rest on the reference
    interpreter, which compiles nothing (a cold kernel cache would cost a minute)"""
    return "cpu" if tag == "resnet18-w0.25" else "ref"


def train(tag, method, args, c, s):
    run = os.path.join(WORK, tag)
    sslc_cmd("train", *method, *args, "--image-size", s, "--channels", c, "--data", f"fake:8:{c}x{s}x{s}",
             "--batch", "4", "--steps", "2", "--targets", "none", "--no-eval", "--device", device(tag), "--out", run)
    return run


def png_folder(tag, c, s, n=5):
    """n random images as PNG files in two class folders, in the dataset's order"""
    root = os.path.join(WORK, tag + ".png")
    imgs = np.random.default_rng(len(tag)).integers(0, 256, (n, s, s, c), dtype=np.uint8)
    files = []
    for i in range(n):
        d = os.path.join(root, "a" if i < n // 2 else "b")
        os.makedirs(d, exist_ok=True)
        files.append(os.path.join(d, f"{i:03d}.png"))
        Image.fromarray(imgs[i][..., 0] if c == 1 else imgs[i]).save(files[-1])
    return root, files


def compare(what, got, ref):
    got = got.detach().numpy() if torch.is_tensor(got) else got
    if got.shape != ref.shape:
        fail(f"{what}: shape {got.shape}, sslc {ref.shape}")
    d = float(np.abs(got.astype(np.float64) - ref).max()) / max(1.0, float(np.abs(ref).max()))
    log(f"{what}: max diff {d:.3g} (max |y| {float(np.abs(ref).max()):.3g})")
    if not d <= TOL:
        fail(f"{what}: max diff {d} > {TOL}")
    return d


def expect_error(what, fn, *needles):
    try:
        fn()
    except (ValueError, FileNotFoundError) as e:
        msg = str(e)
        if "\n" in msg or not all(n in msg for n in needles):
            fail(f"{what}: message {msg!r} lacks {needles}")
        log(f"{what}: refused: {msg}")
        return
    fail(f"{what}: accepted")


def check_config(tag, method, args, c, s):
    run = train(tag, method, args, c, s)
    model = sslc.load_backbone(run)
    info = model.info
    if (info.method, info.channels, info.image_size, len(info.mean), len(info.std)) != (method[0], c, s, c, c):
        fail(f"{tag}: backbone.json says {info}")
    if model.training:
        fail(f"{tag}: load_backbone must return the model in eval mode")
    kind = torchvision.models.VisionTransformer if "vit" in tag else \
        sslc.ConvNet if tag == "convnet" else torchvision.models.ResNet
    if not isinstance(model, kind):
        fail(f"{tag}: {type(model)} is not {kind}")
    x = np.random.default_rng(3).normal(0, 1, (5, c, s, s)).astype(np.float32)
    xf, ff = os.path.join(WORK, "x.safetensors"), os.path.join(WORK, "f.safetensors")
    st.save(xf, {"images": x})
    sslc_cmd("features", run, "--inputs", xf, "-o", ff)
    with torch.no_grad():
        worst = compare(f"{tag} vs sslc features", model(torch.from_numpy(x)), st.load(ff)["features"])
        # the checkpoint file as the source: the same model
        again = sslc.load_backbone(os.path.join(run, "checkpoint.safetensors"))
        compare(f"{tag} from the checkpoint file", again(torch.from_numpy(x)), model(torch.from_numpy(x)).numpy())
        # PNG files through model.transform against `sslc embed` on the same files
        root, files = png_folder(tag, c, s)
        npy = os.path.join(WORK, "e.npy")
        sslc_cmd("embed", run, "--data", f"folder:{root}", "-o", npy, "--quiet", "--device", device(tag))
        # embed's rows: the images of the split it embeds (a folder without train/ and test/ holds
        # some out for evaluation), in the order of the paths file it writes beside the .npy
        with open(os.path.join(WORK, "e.paths.txt")) as fp:
            rows = [ln.rstrip("\n") for ln in fp]
        if not rows or not set(rows) <= {os.path.relpath(f, root) for f in files} | set(files):
            fail(f"{tag}: embed's paths file {rows} does not name the folder's images")
        xs = torch.stack([model.transform(Image.open(r if os.path.isabs(r) else os.path.join(root, r))) for r in rows])
        worst = max(worst, compare(f"{tag} transform + model vs sslc embed", model(xs), np.load(npy)))
    return run, model, worst


def check_torchvision_resnet18(run, model):
    """width 1, 3 channels, ImageNet stem: the weights load into torchvision's own resnet18()"""
    tv = torchvision.models.resnet18(weights=None)
    tv.fc = torch.nn.Identity()
    tv.load_state_dict(model.state_dict(), strict=True)
    tv.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        compare("resnet18-w1 in torchvision.models.resnet18()", tv(x), model(x).numpy())


def check_json(run):
    with open(os.path.join(run, "backbone.json")) as f:
        d = json.load(f)
    want = {"format": "sslc-backbone", "version": 1, "method": "simclr", "backbone": "resnet18", "width": 0.25,
            "feat_dim": 128, "image_size": 16, "channels": 1, "source_size": [16, 16], "cifar_stem": True,
            "patch_size": 0, "depth": 0, "mean": [0.5], "std": [0.226], "prefix": "backbone."}
    if d != want:
        fail(f"backbone.json of the default-like run: {d}, expected {want}")
    log("backbone.json holds what the plan used")


def check_refusals(convnet_run):
    # a run without backbone.json (as an older sslc left it), a plan file, an imported backbone
    bare = os.path.join(WORK, "bare")
    os.makedirs(bare)
    for f in ("plan.plan", "checkpoint.safetensors"):
        os.link(os.path.join(convnet_run, f), os.path.join(bare, f))
    expect_error("a run without backbone.json", lambda: sslc.load_backbone(bare), "backbone.json", "--resume")
    expect_error("a plan file", lambda: sslc.load_backbone(os.path.join(bare, "plan.plan")), "run directory")
    # a flipped bit in a weight: the checkpoint's checksum refuses it
    flip = os.path.join(WORK, "flip")
    os.makedirs(flip)
    os.link(os.path.join(convnet_run, "backbone.json"), os.path.join(flip, "backbone.json"))
    data = bytearray(open(os.path.join(convnet_run, "checkpoint.safetensors"), "rb").read())
    data[-3] ^= 0x10
    open(os.path.join(flip, "checkpoint.safetensors"), "wb").write(data)
    expect_error("a flipped bit", lambda: sslc.load_backbone(flip), "corrupted")
    # the fix the message names: resuming the run writes backbone.json
    sslc_cmd("run", "--resume", bare, "--steps", "3", "--device", "ref")
    x = np.random.default_rng(4).normal(0, 1, (2, 3, 16, 16)).astype(np.float32)
    xf, ff = os.path.join(WORK, "x.safetensors"), os.path.join(WORK, "f.safetensors")
    st.save(xf, {"images": x})
    sslc_cmd("features", bare, "--inputs", xf, "-o", ff)
    with torch.no_grad():
        compare("a resumed old run", sslc.load_backbone(bare)(torch.from_numpy(x)), st.load(ff)["features"])
    onnx = os.path.join(WORK, "convnet.onnx")
    sslc_cmd("export", convnet_run, "-o", onnx, "--raw-input")
    run = os.path.join(WORK, "imported")
    sslc_cmd("train", "simclr", "--backbone", onnx, "--data", "fake:8:3x16x16", "--batch", "4", "--steps", "1",
             "--targets", "none", "--no-eval", "--device", "ref", "--out", run)
    expect_error("an imported ONNX backbone", lambda: sslc.load_backbone(run), "imported ONNX backbone", "sslc export")


def main():
    worst, runs = 0.0, {}
    for tag, method, args, c, s in CONFIGS:
        runs[tag], model, w = check_config(tag, method, args, c, s)
        worst = max(worst, w)
        if tag == "resnet18-w1":
            check_torchvision_resnet18(runs[tag], model)
    check_json(runs["resnet18-w0.25"])
    check_refusals(runs["convnet"])
    print(f"python package vs sslc features / embed: worst max diff {worst:.3g} (tolerance {TOL})")


main()

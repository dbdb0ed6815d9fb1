"""ONNX export/import checks against onnx's checker and ONNX Runtime.

usage: onnx_oracle.py SSLC WORKDIR {export,import,resnet50,vit,vitcrop,badfiles,rundir}

  export    sslc-built encoders (ConvNet, ResNet-18 at small width, CIFAR and ImageNet stems) with
            random weights and BatchNorm statistics, and a graph with every op of the exporter's
            table (tests/test_onnx_opsexport): every export passes
            onnx.checker.check_model(full_check=True); ONNX Runtime on the model equals
            `sslc features` (same weights, same images, another batch size than the export's)
            and `sslc embed` (cpu engine) on a folder: dataset of PNG files, which ONNX Runtime
            gets as u8 / 255 normalized with the plan's mean and std (--raw-input models) or as
            u8 / 255 alone (the default models, which normalize inside); metadata_props record
            method, backbone, width, feat_dim, image size, channels, mean, std and the input;
            importing a default model as a backbone is refused (it would normalize twice)
  import    torchvision ResNet-18 exported by torch.onnx.export (opset 13 and 17; BatchNorm
            folded, preserved, and in training mode; cut before fc with --backbone-output):
            imported by `sslc compile`, its forward equals ONNX Runtime's; SimCLR steps on it;
            export -> import -> export gives the same outputs (those, and sslc's ResNet-18 and ViT)
  resnet50  torchvision ResNet-50 (opset 17) imported, forward equals ONNX Runtime's
  vit       torchvision VisionTransformer (small, random weights, opset 13 and 17): imported, its
            forward equals ONNX Runtime's; SimCLR trains on it (`sslc run`); export -> import ->
            export gives the same outputs; LayerNorm arithmetic fused or not; Split in each
            opset's form and Gelu; a token-sequence output is refused with one line; the
            importer's fuzzer runs with the torch exports among its seeds
  vitcrop   DINO (vit-tiny) and SwAV (vit-small) trained 3 steps with 6 local crops (position
            embedding resized to the local grid) export at the global size: the checker accepts
            the model (--raw-input), its input is [N, 3, 32, 32], and ONNX Runtime equals `sslc
            features` on the run directory
  badfiles  malformed files and sources: one line on stderr, non-zero exit, never a crash
  rundir    a run directory trained (2 steps) on an imported backbone: eval, export and embed give
            the same JSON, bytes and array after the .onnx moved and after it was deleted (the plan
            holds the model); a model altered inside the plan (file checksum fixed up or not) and a
            plan without the stored model are refused with one line; the fix that line names
            (recompile, the checkpoint as --params) exports the same bytes

Max abs diffs are printed; the tolerance is 1e-4 (--tol)."""
import argparse
import copy
import json
import os
import subprocess
import sys
import time
import warnings
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

TOL = 1e-4
SSLC = None
WORK = None
T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:5.1f}s] {msg}", flush=True)


def sslc(*args, check=True):
    r = subprocess.run([SSLC] + [str(a) for a in args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"FAIL: sslc {' '.join(map(str, args))}\n{r.stdout}{r.stderr}")
    return r


def path(name):
    return os.path.join(WORK, name)


def random_params(plan, seed):
    """Random values for every f32 parameter and state tensor of the plan (positive variances)."""
    info = json.loads(sslc("inspect", plan, "--params", "--json").stdout)
    rng = np.random.default_rng(seed)
    out = {}
    for t in info["tensors"]:
        if t["dtype"] != "f32":
            continue
        name, shape = t["name"], t["shape"]
        if name.endswith("running_var"):
            a = rng.uniform(0.5, 2.0, shape)
        elif name.endswith("running_mean"):
            a = rng.normal(0, 0.3, shape)
        elif len(shape) <= 1:
            a = rng.normal(0.1, 0.3, shape)
        else:
            a = rng.normal(0, (2.0 / int(np.prod(shape[1:]))) ** 0.5, shape)
        out[name] = a.astype(np.float32)
    return out, info


def run_ort(model, x):
    s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    outs = s.run(None, {s.get_inputs()[0].name: x})
    return {o.name: v for o, v in zip(s.get_outputs(), outs)}


def sslc_features(source, x, *extra):
    xf, ff = path("x.safetensors"), path("f.safetensors")
    st.save(xf, {"images": x})
    sslc("features", source, "--inputs", xf, "-o", ff, *extra)
    return st.load(ff)


def write_png(file, img):
    """img: uint8 [C, H, W], C = 1 (gray) or 3 (RGB); filter 0 rows, one IDAT."""
    import struct
    import zlib
    c, h, w = img.shape
    raw = b"".join(b"\0" + img[:, y, :].T.tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    with open(file, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def png_folder(name, c, s, n=5, seed=0):
    """A folder: dataset of n random images in two classes, the same in train/ and test/ (without
    them a part would be held out); returns (spec, u8 [n, C, S, S] in the dataset's order:
    classes sorted, files sorted)."""
    root = path(f"{name}.images")
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, c, s, s), dtype=np.uint8)
    for split in ("train", "test"):
        for i in range(n):
            d = os.path.join(root, split, "a" if i < n // 2 else "b")
            os.makedirs(d, exist_ok=True)
            write_png(os.path.join(d, f"{i:03d}.png"), imgs[i])
    return f"folder:{root}", imgs


def normalized(imgs, options):
    """what sslc's eval graph feeds the encoder: ToFloat (x / 255) then Normalize, in float32"""
    c = imgs.shape[1]
    mean = np.array([float(v) for v in options["aug.mean"].split(",")], np.float32)
    std = np.array([float(v) for v in options["aug.std"].split(",")], np.float32)
    mean, std = (np.broadcast_to(v, (c,)).reshape(1, c, 1, 1) for v in (mean, std))
    return ((imgs.astype(np.float32) / np.float32(255)) - mean) / std


def sslc_embed(source, spec, *extra):
    f = path("embed.npy")
    sslc("embed", source, "--data", spec, "-o", f, "--quiet", *extra)
    return np.load(f)


def check_model(model):
    m = onnx.load(model)
    onnx.checker.check_model(m, full_check=True)
    return m


def compare(what, a, b, tol=TOL):
    assert a.shape == b.shape, f"{what}: shapes {a.shape} vs {b.shape}"
    d = float(np.abs(a.astype(np.float64) - b).max())
    log(f"{what}: max abs diff {d:.3g} (max |y| {float(np.abs(b).max()):.3g})")
    if not d <= tol:
        raise SystemExit(f"FAIL: {what}: max abs diff {d} > {tol}")
    return d


# ---- export ----

def expected_meta(options, raw_input):
    """metadata_props sslc export records: the plan's options, mean/std one value per channel"""
    c = int(options["channels"])

    def per_channel(key):
        v = [f"{float(a):.9g}" for a in options[key].split(",")]
        return ",".join(v * c if len(v) == 1 else v)
    return {"sslc.method": "simclr", "sslc.backbone": options["backbone"], "sslc.width": f"{float(options['width']):.9g}",
            "sslc.image_size": options["image_size"], "sslc.channels": options["channels"],
            "sslc.mean": per_channel("aug.mean"), "sslc.std": per_channel("aug.std"),
            "sslc.input": "(pixels - mean) / std" if raw_input else "pixels in [0, 1]"}


def check_pixel_input(name, run, imgs, xe, spec, options):
    """The default export normalizes inside: ONNX Runtime on raw pixels (u8 / 255) equals
    `sslc embed` on the same images and the --raw-input model on the normalized pixels; both
    models' metadata_props say what they expect."""
    pix, raw = path("pixels.onnx"), path("raw.onnx")
    sslc("export", run, "-o", pix)
    sslc("export", run, "--raw-input", "-o", raw)
    worst = 0.0
    for model, raw_input in ((pix, False), (raw, True)):
        m = check_model(model)
        meta = {p.key: p.value for p in m.metadata_props}
        feat = meta.pop("sslc.feat_dim")
        assert int(feat) == m.graph.output[0].type.tensor_type.shape.dim[1].dim_value, f"{name}: feat_dim {feat}"
        want = expected_meta(options, raw_input)
        assert meta == want, f"{name}: metadata_props {meta}, expected {want}"
        ops = [n.op_type for n in m.graph.node]
        assert (ops[:2] == ["Sub", "Div"]) != raw_input, f"{name}: the model starts with {ops[:2]}"
    y = run_ort(pix, (imgs.astype(np.float32) / np.float32(255)))["features"]
    worst = max(worst, compare(f"{name} pixel-input export on [0, 1] pixels vs sslc embed", y, sslc_embed(run, spec)))
    worst = max(worst, compare(f"{name} pixel-input export vs --raw-input export on normalized pixels", y,
                               run_ort(raw, xe)["features"]))
    log(f"{name}: metadata_props and the Sub/Div normalization as expected")
    # as a backbone, a model that normalizes would normalize the plan's views twice
    one_line_error(["compile", "simclr", "--backbone", pix, "--targets", "none", "-o", path("x.plan")],
                   "export it again with --raw-input", f"{name}: a pixel-input export imported as a backbone")
    return worst


def cmd_export():
    configs = [
        ("convnet", ["--backbone", "convnet", "--width", "0.25", "--image-size", "16"]),
        ("convnet-gray", ["--backbone", "convnet", "--width", "0.25", "--image-size", "16", "--channels", "1"]),
        ("resnet18-cifar", ["--backbone", "resnet18", "--width", "0.125", "--image-size", "32"]),
        ("resnet18-imagenet", ["--backbone", "resnet18", "--width", "0.125", "--image-size", "40", "--cifar-stem", "off"]),
        ("vit-tiny", ["--backbone", "vit-tiny", "--width", "0.125", "--depth", "2", "--image-size", "16"]),
    ]
    # other methods' projectors (--with-projector): MoCo's Linear, MoCo v3's Linear+BatchNorm MLP
    method_configs = [
        ("moco", ["--set", "K=8"]),
        ("mocov2", ["--set", "K=8"]),
        ("mocov3", ["--set", "hidden_dim=32", "--set", "projection_dim=16"]),
        ("barlow_twins", ["--set", "hidden_dim=32", "--set", "projection_dim=16"]),
        ("byol", ["--set", "hidden_dim=32", "--set", "projection_dim=16"]),
        ("simclrv2", ["--set", "projection_dim=16"]),
        ("simsiam", ["--set", "hidden_dim_proj=32", "--set", "projection_dim=16"]),
        ("supcon", ["--set", "projection_dim=16"]),
    ]
    variants = [[], ["--with-projector"], ["--fold-bn"], ["--opset", "13"], ["--with-projector", "--fold-bn", "--opset", "15"]]
    worst = 0.0
    for name, args in configs:
        plan = path(f"{name}.plan")
        sslc("compile", "simclr", *args, "--batch", "4", "-o", plan)
        params, info = random_params(plan, seed=len(name))
        pf = path(f"{name}.params.safetensors")
        st.save(pf, params)
        c, s = int(info["options"]["channels"]), int(info["options"]["image_size"])
        x = np.random.default_rng(7).normal(0, 1, (5, c, s, s)).astype(np.float32)  # batch 5: not the export's
        # the same images as PNG files for `sslc embed`, and normalized as its graph does for ONNX Runtime
        spec, imgs = png_folder(name, c, s)
        xe = normalized(imgs, info["options"])
        for v in variants:
            model = path(f"{name}.onnx")
            sslc("export", plan, "--params", pf, "--raw-input", "-o", model, *v)
            m = check_model(model)
            dim0 = m.graph.input[0].type.tensor_type.shape.dim[0]
            assert m.graph.input[0].name == "images" and dim0.dim_param == "N", "input must be images [N,C,H,W]"
            assert [o.name for o in m.graph.output] == (["features", "projection"] if "--with-projector" in v else ["features"])
            if "--fold-bn" in v:
                assert not any(n.op_type == "BatchNormalization" for n in m.graph.node), "BatchNorm left after --fold-bn"
            y = run_ort(model, x)
            if not v:
                y_default = y["features"]
            f = sslc_features(plan, x, "--params", pf, *[a for a in v if a == "--with-projector"])
            for k in y:
                worst = max(worst, compare(f"{name} {' '.join(v) or '(default)'} {k}", y[k], f[k]))
            if "--opset" not in v:  # ONNX Runtime vs `sslc embed` (cpu engine) on PNG files
                proj = "--with-projector" in v
                e = sslc_embed(plan, spec, "--params", pf, *(["--with-projector"] if proj else []))
                worst = max(worst, compare(f"{name} {' '.join(v) or '(default)'} vs sslc embed",
                                           run_ort(model, xe)["projection" if proj else "features"], e))
        # a run directory: plan.plan + checkpoint.safetensors
        run = path(f"{name}.run")
        os.makedirs(run, exist_ok=True)
        os.replace(plan, os.path.join(run, "plan.plan"))
        st.save(os.path.join(run, "checkpoint.safetensors"), params)
        sslc("export", run, "--raw-input", "-o", path("run.onnx"))
        check_model(path("run.onnx"))
        worst = max(worst, compare(f"{name} run directory", run_ort(path("run.onnx"), x)["features"],
                                   sslc_features(run, x)["features"]))
        worst = max(worst, compare(f"{name} run directory vs sslc embed", run_ort(path("run.onnx"), xe)["features"],
                                   sslc_embed(run, spec)))
        compare(f"{name} run directory = plan + params", run_ort(path("run.onnx"), x)["features"], y_default, tol=0)
        worst = max(worst, check_pixel_input(name, run, imgs, xe, spec, info["options"]))
    for method, margs in method_configs:
        available = method in sslc("methods").stdout.split()
        if not available:
            log(f"{method}: not in this build, skipped")
            continue
        plan = path(f"{method}.plan")
        sslc("compile", method, "--backbone", "convnet", "--width", "0.25", "--image-size", "16", "--batch", "4",
             *margs, "-o", plan)
        params, _ = random_params(plan, seed=3)
        pf = path(f"{method}.params.safetensors")
        st.save(pf, params)
        x = np.random.default_rng(8).normal(0, 1, (3, 3, 16, 16)).astype(np.float32)
        model = path(f"{method}.onnx")
        sslc("export", plan, "--params", pf, "--with-projector", "--raw-input", "-o", model)
        check_model(model)
        y, f = run_ort(model, x), sslc_features(plan, x, "--params", pf, "--with-projector")
        for k in ("features", "projection"):
            worst = max(worst, compare(f"{method} --with-projector {k}", y[k], f[k]))
    # every op of the exporter's table (Pad, Expand, batch-dependent Reshape, reductions, Gelu...):
    # tests/test_onnx_opsexport writes the model and the interpreter's output at batch 5
    tool = os.path.join(os.path.dirname(SSLC), "tests", "test_onnx_opsexport")
    subprocess.run([tool, "dump", WORK], check=True, capture_output=True)
    check_model(path("ops.onnx"))
    io = st.load(path("ops.safetensors"))
    worst = max(worst, compare("every exported op (opset 17, batch 5)", run_ort(path("ops.onnx"), io["images"])["features"],
                               io["features"]))
    print(f"export: ONNX Runtime vs sslc (features and embed), worst max abs diff {worst:.3g}")


# ---- import ----

def torchvision_model(arch, fc_classes=None, seed=0):
    import torch
    import torchvision
    torch.manual_seed(seed)
    m = getattr(torchvision.models, arch)()
    m.fc = torch.nn.Linear(m.fc.in_features, fc_classes) if fc_classes else torch.nn.Identity()
    with torch.no_grad():  # trained-looking BatchNorm: statistics and affine parameters away from 0/1
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.2)
    return m.eval()


def torch_export(m, file, opset, dynamic=True, mode=None, folding=True):
    import torch
    x = torch.randn(2, 3, 32, 32)
    kw = dict(opset_version=opset, input_names=["x"], output_names=["y"], do_constant_folding=folding)
    if dynamic:
        kw["dynamic_axes"] = {"x": {0: "N"}, "y": {0: "N"}}
    if mode:
        kw["training"] = getattr(torch.onnx.TrainingMode, mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, x, file, **kw)
        if mode == "TRAINING":
            m.eval()  # export in TRAINING mode leaves the module in train mode
    return file


def with_output(model, name):
    """The model with the intermediate value `name` as an extra graph output."""
    m = onnx.load(model)
    m.graph.output.append(helper.make_empty_tensor_value_info(name))
    out = model.replace(".onnx", ".out.onnx")
    onnx.save(m, out)
    return out


def eval_mode_copy(model):
    """The model with its training-mode BatchNormalization nodes switched to inference (what ONNX
    Runtime then computes is the eval-mode forward that sslc's features run)."""
    m = onnx.load(model)
    n_bn = 0
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            n_bn += 1
            del n.output[1:]
            for a in n.attribute:
                if a.name == "training_mode":
                    a.i = 0
    assert n_bn, "no BatchNormalization in a training-mode export"
    out = model.replace(".onnx", ".eval.onnx")
    onnx.save(m, out)
    return out


def import_and_compare(model, x, ref, tag, *compile_args):
    plan = model.replace(".onnx", ".plan")
    sslc("compile", "simclr", "--backbone", model, "--batch", "4", "--augment", "none", *compile_args, "-o", plan)
    f = sslc_features(plan, x)["features"]
    return plan, compare(f"{tag}: sslc forward of the imported model vs ONNX Runtime", f, ref)


def simclr_steps(plan, tag, steps=3):
    rng = np.random.default_rng(3)
    views = {f"views.{i}": rng.normal(0, 1, (4, 3, 32, 32)).astype(np.float32) for i in range(2)}
    vf, df = path("views.safetensors"), path("dump.safetensors")
    st.save(vf, views)
    sslc("step", plan, "--inputs", vf, "--steps", steps, "--dump", df)
    d = st.load(df)
    losses = [float(d[f"loss.{i}"]) for i in range(steps)]
    assert all(np.isfinite(losses)), losses
    info = json.loads(sslc("inspect", plan, "--params", "--json").stdout)
    names = [t["name"] for t in info["tensors"] if t["kind"] == "param" and t["name"].startswith("backbone.")]
    grads = [k for k in d if k.startswith("grad.backbone.")]
    assert names and len(grads) == len(names), (len(names), len(grads))
    log(f"{tag}: SimCLR {steps} steps, losses {', '.join(f'{v:.4f}' for v in losses)}; "
          f"{len(names)} imported parameters, all with gradients")
    return d, names


def cmd_import():
    import torch
    rng = np.random.default_rng(11)
    worst = 0.0
    m = torchvision_model("resnet18")
    x3 = rng.normal(0, 1, (3, 3, 32, 32)).astype(np.float32)
    x2 = x3[:2].copy()
    with torch.no_grad():
        ref_torch = m(torch.from_numpy(x3)).numpy()

    # opset 13, dynamic batch, BatchNorm folded by torch (the default export)
    f13 = torch_export(m, path("tv18_13.onnx"), 13)
    y13 = run_ort(f13, x3)["y"]
    compare("torch vs ONNX Runtime (sanity)", y13, ref_torch, tol=1e-3)
    p13, d = import_and_compare(f13, x3, y13, "resnet18 opset 13")
    worst = max(worst, d)
    # opset 17, static batch 2
    f17 = torch_export(m, path("tv18_17.onnx"), 17, dynamic=False)
    _, d = import_and_compare(f17, x2, run_ort(f17, x2)["y"], "resnet18 opset 17 (static batch)")
    worst = max(worst, d)
    # opset 17 with BatchNorm kept: eval mode (PRESERVE) and training mode (TRAINING, training_mode=1)
    fp = torch_export(m, path("tv18_17p.onnx"), 17, mode="PRESERVE")
    yp = run_ort(fp, x3)["y"]
    pp, d = import_and_compare(fp, x3, yp, "resnet18 opset 17, BatchNorm preserved")
    worst = max(worst, d)
    ft = torch_export(copy.deepcopy(m), path("tv18_17t.onnx"), 17, mode="TRAINING", folding=False)
    pt, d = import_and_compare(ft, x3, run_ort(eval_mode_copy(ft), x3)["y"],
                               "resnet18 opset 17, training-mode BatchNorm (eval forward)")
    worst = max(worst, d)
    # the classifier cut off: --backbone-output names the Flatten output
    mf = torchvision_model("resnet18", fc_classes=10)
    ff = torch_export(mf, path("tv18_fc.onnx"), 17)
    flat = next(n.output[0] for n in onnx.load(ff).graph.node if n.op_type == "Flatten")
    _, d = import_and_compare(ff, x3, run_ort(with_output(ff, flat), x3)[flat], "resnet18 with fc, --backbone-output Flatten",
                              "--backbone-output", flat)
    worst = max(worst, d)

    # SimCLR trains on imported backbones: BatchNorm folded (opset 13) and kept (state updated)
    simclr_steps(p13, "resnet18 opset 13 import")
    # with the method's augmentation in the step graph, trained by `sslc run` on the fused CPU kernels
    paug = path("tv18_13_aug.plan")
    sslc("compile", "simclr", "--backbone", f13, "--batch", "4", "-o", paug)
    r = sslc("run", paug, "--data", "fake:8", "--steps", "1", "--device", "cpu")
    log(f"resnet18 opset 13 import, SimCLR augmentation, `sslc run` (fused CPU kernels): "
        f"{r.stdout.strip().splitlines()[-1]}")
    d, _ = simclr_steps(pt, "resnet18 training-mode BN import")
    info = json.loads(sslc("inspect", pt, "--params", "--json").stdout)
    state = [t["name"] for t in info["tensors"] if t["kind"] == "state" and t["name"].endswith("running_mean")]
    init = {o.name: numpy_helper.to_array(o) for o in onnx.load(ft).graph.initializer}
    assert "backbone.bn1.running_mean" in state, state[:5]
    moved = float(np.abs(d["backbone.bn1.running_mean"] - init["bn1.running_mean"]).max())
    assert moved > 0, "BatchNorm running statistics did not change while training"
    log(f"BatchNorm statistics are state: {len(state)} running_mean tensors, bn1 moved by {moved:.3g}")

    # export -> import -> export: the torchvision import, exported by sslc, gives ONNX Runtime's outputs
    for plan, src, tag in [(p13, f13, "opset 13 (folded)"), (pp, fp, "opset 17 (BatchNorm)")]:
        e = path("reexport.onnx")
        sslc("export", plan, "--raw-input", "-o", e)
        check_model(e)
        worst = max(worst, compare(f"torchvision {tag} -> sslc import -> export", run_ort(e, x3)["features"],
                                   run_ort(src, x3)["y"]))
    # sslc-native ResNet-18 and ViT -> export -> import -> export
    for tag, args, x in [("resnet18", ["--backbone", "resnet18", "--width", "0.125", "--image-size", "32"], x3),
                         ("vit-tiny", ["--backbone", "vit-tiny", "--width", "0.125", "--depth", "2", "--image-size", "16"],
                          rng.normal(0, 1, (3, 3, 16, 16)).astype(np.float32))]:
        nat = path(f"native-{tag}.plan")
        sslc("compile", "simclr", *args, "--batch", "4", "-o", nat)
        params, _ = random_params(nat, seed=5)
        pf = path(f"native-{tag}.safetensors")
        st.save(pf, params)
        e1, e2 = path(f"native-{tag}-1.onnx"), path(f"native-{tag}-2.onnx")
        sslc("export", nat, "--params", pf, "--raw-input", "-o", e1)
        p2 = path(f"native-{tag}-1.plan")
        sslc("compile", "simclr", "--backbone", e1, "--batch", "4", "-o", p2)
        sslc("export", p2, "--raw-input", "-o", e2)
        check_model(e2)
        y1 = run_ort(e1, x)["features"]
        worst = max(worst, compare(f"sslc {tag} -> export -> import -> export (ONNX Runtime)", run_ort(e2, x)["features"], y1))
        worst = max(worst, compare(f"sslc {tag} -> export -> import (sslc forward)", sslc_features(p2, x)["features"],
                                   sslc_features(nat, x, "--params", pf)["features"]))
        n1 = {t["name"] for t in json.loads(sslc("inspect", nat, "--params", "--json").stdout)["tensors"]
              if t["name"].startswith("backbone.") and t["dtype"] == "f32"}
        n2 = {t["name"] for t in json.loads(sslc("inspect", p2, "--params", "--json").stdout)["tensors"]
              if t["name"].startswith("backbone.") and t["dtype"] == "f32"}
        assert n1 == n2, f"names differ after the round trip: {sorted(n1 ^ n2)[:6]}"
        log(f"{tag} round trip keeps the {len(n1)} backbone parameter and state names")
    print(f"import: worst max abs diff {worst:.3g}")


def cmd_resnet50():
    m = torchvision_model("resnet50")
    x = np.random.default_rng(5).normal(0, 1, (2, 3, 32, 32)).astype(np.float32)
    f = torch_export(m, path("tv50.onnx"), 17)
    plan, d = import_and_compare(f, x, run_ort(f, x)["y"], "resnet50 opset 17")
    print(f"resnet50: max abs diff {d:.3g}")


# ---- ViT ----

def torchvision_vit(seed=0):
    """A small torchvision VisionTransformer (heads removed: the output is the [N, 64] class-token
    feature) with its class token, position embedding, LayerNorms and biases moved away from their
    zero/one initialization; the last two LayerNorms keep it, so torch writes Identity nodes for
    their equal initializers."""
    import torch
    from torchvision.models.vision_transformer import VisionTransformer
    torch.manual_seed(seed)
    m = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=128,
                          num_classes=10)
    m.heads = torch.nn.Identity()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.startswith("encoder.ln.") or ".encoder_layer_1.ln_2." in name:
                continue
            if name in ("class_token", "encoder.pos_embedding"):
                p.normal_(0, 0.5)
            elif ".ln_" in name and name.endswith("weight"):
                p.uniform_(0.5, 1.5)
            elif name.endswith("bias"):
                p.normal_(0, 0.2)
    return m.eval()


class VitTokens:
    """torchvision ViT's encoder output, every token: [N, 17, 64], not a feature vector"""

    @staticmethod
    def make(vit):
        import torch

        class Tokens(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.vit = vit

            def forward(self, x):
                t = self.vit._process_input(x)
                t = torch.cat([self.vit.class_token.expand(t.shape[0], -1, -1), t], dim=1)
                return self.vit.encoder(t)
        return Tokens().eval()


def sslc_run(plan, tag, steps=3):
    """`sslc run` on fake data: every step's loss finite"""
    r = sslc("run", plan, "--data", "fake:8", "--steps", steps, "--device", "cpu")
    losses = [float(l.split("loss ")[1].split()[0]) for l in r.stdout.splitlines() if l.startswith("step ")]
    assert len(losses) == steps and all(np.isfinite(losses)), r.stdout
    log(f"{tag}: `sslc run` {steps} steps, losses {', '.join(f'{v:.4f}' for v in losses)}")


def token_model(nodes, inits, out, opset):
    """x [N, 3, 8, 8] -> Conv -> tokens t [N, 6, 16] -> nodes -> Flatten(out) -> y [N, F]"""
    rng = np.random.default_rng(4)
    head = [helper.make_node("Conv", ["x", "w"], ["conv"], strides=[2, 2]),  # [N, 6, 4, 4]
            helper.make_node("Reshape", ["conv", "shp"], ["t"])]          # [N, 6, 16]
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (6, 3, 2, 2)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array([0, 6, 16], np.int64), "shp")] + list(inits)
    return tiny_model(head + nodes + [helper.make_node("Flatten", [out], ["y"])], ["N", "F"], inits, opset=opset)


def ln_models():
    """LayerNorm written as arithmetic in shapes the importer treats differently: two trailing axes
    with a [T, C] scale (one LayerNormalization), a non-trailing axis (kept as arithmetic), and
    the square as Mul(d, d) without scale or bias (sslc's own export before opset 17)."""
    rng = np.random.default_rng(4)
    two, eps = (numpy_helper.from_array(np.array(v, np.float32), n) for v, n in ((2.0, "two"), (1e-5, "eps")))

    def ln(axes, square, affine):
        nodes = [helper.make_node("ReduceMean", ["t"], ["mu"], axes=axes), helper.make_node("Sub", ["t", "mu"], ["d"]),
                 square, helper.make_node("ReduceMean", ["sq"], ["var"], axes=axes),
                 helper.make_node("Add", ["var", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["sd"]),
                 helper.make_node("Div", ["d", "sd"], ["n0"])]
        inits = [eps] + ([two] if "two" in square.input else [])
        last = "n0"
        if affine:
            sshape = [6, 16] if len(axes) == 2 else [16]
            inits += [numpy_helper.from_array(rng.uniform(0.5, 1.5, sshape).astype(np.float32), "lw"),
                      numpy_helper.from_array(rng.normal(0, 0.2, sshape).astype(np.float32), "lb")]
            nodes += [helper.make_node("Mul", ["n0", "lw"], ["n1"]), helper.make_node("Add", ["n1", "lb"], ["n2"])]
            last = "n2"
        return token_model(nodes, inits, last, 13)
    pow2 = helper.make_node("Pow", ["d", "two"], ["sq"])
    # tag: (model, imported as one LayerNormalization)
    return {"LayerNorm arithmetic over the last two axes, [T, C] scale": (ln([-2, -1], pow2, True), True),
            "LayerNorm arithmetic over a middle axis": (ln([1], pow2, True), False),
            "LayerNorm arithmetic with Mul(d, d), no affine": (ln([-1], helper.make_node("Mul", ["d", "d"], ["sq"]), False),
                                                              True)}


def split_models():
    """Split as other exporters write a ViT's qkv chunk, in each opset's form; Gelu (opset 20)"""
    sizes = numpy_helper.from_array(np.array([4, 4, 8], np.int64), "sizes")
    mix = [helper.make_node("Mul", ["a", "b"], ["ab"]), helper.make_node("Concat", ["ab", "c"], ["m"], axis=-1)]
    return {
        "Split, sizes as an input (opset 13)":
            token_model([helper.make_node("Split", ["t", "sizes"], ["a", "b", "c"], axis=-1)] + mix, [sizes], "m", 13),
        "Split, sizes as an attribute (opset 11)":
            token_model([helper.make_node("Split", ["t"], ["a", "b", "c"], axis=2, split=[4, 4, 8])] + mix, [], "m", 11),
        "Split into equal parts (opset 17)":
            token_model([helper.make_node("Split", ["t"], ["a", "b"], axis=-1), helper.make_node("Sub", ["a", "b"], ["m"])],
                        [], "m", 17),
        "Split num_outputs, uneven (opset 20), then Gelu":
            token_model([helper.make_node("Split", ["t"], ["a", "b", "c"], axis=-1, num_outputs=3),
                         helper.make_node("Concat", ["c", "b", "a"], ["m"], axis=-1),
                         helper.make_node("Gelu", ["m"], ["g"])], [], "g", 20),
    }


def cmd_vit():
    import torch
    rng = np.random.default_rng(12)
    worst = 0.0
    m = torchvision_vit()
    x3 = rng.normal(0, 1, (3, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref_torch = m(torch.from_numpy(x3)).numpy()
    plans = {}
    for opset in (13, 17):
        f = torch_export(m, path(f"tvvit_{opset}.onnx"), opset)
        ops = {n.op_type for n in onnx.load(f).graph.node}
        assert ("LayerNormalization" in ops) == (opset >= 17), f"opset {opset}: {sorted(ops)}"
        y = run_ort(f, x3)["y"]
        compare(f"vit opset {opset}: torch vs ONNX Runtime (sanity)", y, ref_torch, tol=1e-3)
        plans[opset], d = import_and_compare(f, x3, y, f"vit opset {opset}")
        worst = max(worst, d)
        # the same graph whichever way LayerNorm was written: opset 13's arithmetic is fused
        n_nodes = json.loads(sslc("inspect", plans[opset], "--json").stdout)["nodes"]
        log(f"vit opset {opset}: train step of {n_nodes} nodes")
        if opset == 17:
            assert n_nodes == n13, f"opset 13's LayerNorm arithmetic was not fused ({n13} vs {n_nodes} nodes)"
        n13 = n_nodes
        # SimCLR with its augmentation, trained by `sslc run` (fused CPU kernels)
        paug = path(f"tvvit_{opset}_aug.plan")
        sslc("compile", "simclr", "--backbone", f, "--batch", "4", "-o", paug)
        sslc_run(paug, f"vit opset {opset} import, SimCLR")
    simclr_steps(plans[17], "vit opset 17 import")  # every imported parameter gets a gradient

    # export -> import -> export
    for opset, plan in plans.items():
        src = path(f"tvvit_{opset}.onnx")
        e1, e2 = path(f"tvvit_{opset}_e1.onnx"), path(f"tvvit_{opset}_e2.onnx")
        sslc("export", plan, "--raw-input", "-o", e1)
        check_model(e1)
        y1 = run_ort(e1, x3)["features"]
        worst = max(worst, compare(f"vit opset {opset} -> sslc import -> export", y1, run_ort(src, x3)["y"]))
        p2 = path(f"tvvit_{opset}_e1.plan")
        sslc("compile", "simclr", "--backbone", e1, "--batch", "4", "-o", p2)
        sslc("export", p2, "--raw-input", "-o", e2)
        check_model(e2)
        worst = max(worst, compare(f"vit opset {opset} -> import -> export -> import -> export", run_ort(e2, x3)["features"], y1))
        names = [{t["name"] for t in json.loads(sslc("inspect", p, "--params", "--json").stdout)["tensors"]
                  if t["name"].startswith("backbone.")} for p in (plan, p2)]
        assert names[0] == names[1], f"names differ after the round trip: {sorted(names[0] ^ names[1])[:6]}"

    # sslc's own ViT exported at opset 13 (LayerNorm as Mul(d, d) arithmetic on [N*T, C]) and 17
    nat = path("native-vit.plan")
    sslc("compile", "simclr", "--backbone", "vit-tiny", "--width", "0.125", "--depth", "2", "--image-size", "16",
         "--batch", "4", "-o", nat)
    params, _ = random_params(nat, seed=6)
    pf = path("native-vit.safetensors")
    st.save(pf, params)
    x16 = rng.normal(0, 1, (3, 3, 16, 16)).astype(np.float32)
    counts = []
    for opset in ("13", "17"):
        e = path(f"native-vit-{opset}.onnx")
        sslc("export", nat, "--params", pf, "--opset", opset, "--raw-input", "-o", e)
        p, d = import_and_compare(e, x16, run_ort(e, x16)["features"], f"sslc vit-tiny exported at opset {opset}")
        worst = max(worst, d)
        counts.append(json.loads(sslc("inspect", p, "--json").stdout)["nodes"])
    assert counts[0] == counts[1], f"sslc's opset-13 LayerNorm arithmetic was not fused ({counts} nodes)"

    # hand-made models: LayerNorm arithmetic in other shapes, Split, Gelu
    def small(tag, model):
        onnx.checker.check_model(model, full_check=True)
        f = path("small.onnx")
        onnx.save(model, f)
        x = rng.normal(0, 1, (3, 3, 8, 8)).astype(np.float32)
        return import_and_compare(f, x, run_ort(f, x)["y"], tag)
    for tag, (model, fused) in ln_models().items():
        plan, d = small(tag, model)
        worst = max(worst, d)
        sslc("export", plan, "--raw-input", "-o", path("ln-e.onnx"))  # what the plan computes, as ONNX ops
        ops = [n.op_type for n in onnx.load(path("ln-e.onnx")).graph.node]
        assert ("LayerNormalization" in ops) == fused and ("Sqrt" in ops) != fused, f"{tag}: {ops}"
    for tag, model in split_models().items():
        worst = max(worst, small(tag, model)[1])

    # not a feature vector: the encoder's tokens, as a model's output and as --backbone-output
    ft = torch_export(VitTokens.make(m), path("tvvit_tokens.onnx"), 17)
    one_line_error(["compile", "simclr", "--backbone", ft, "-o", path("x.plan")],
                   "is [2,17,64] for a batch of 2: the backbone output must be a feature vector [N, F]", "ViT tokens output")
    ln_out = next(n.output[0] for n in reversed(onnx.load(path("tvvit_17.onnx")).graph.node)
                  if n.op_type == "LayerNormalization")
    one_line_error(["compile", "simclr", "--backbone", path("tvvit_17.onnx"), "--backbone-output", ln_out, "-o",
                    path("x.plan")], "must be a feature vector", "ViT --backbone-output of the token sequence")
    # exported for a fixed batch: another batch is refused, saying why
    fs = torch_export(m, path("tvvit_static.onnx"), 17, dynamic=False)
    one_line_error(["compile", "simclr", "--backbone", fs, "--batch", "4", "-o", path("x.plan")],
                   "exported for a fixed batch of 2", "ViT exported at a fixed batch")

    # the importer's fuzzer with torch's ViT exports among its seeds
    tool = os.path.join(os.path.dirname(SSLC), "tests", "test_onnx_fuzz")
    env = dict(os.environ, SSLC_FUZZ_SECONDS="8",
               SSLC_FUZZ_SEED_FILES=f"{path('tvvit_13.onnx')}:{path('tvvit_17.onnx')}")
    r = subprocess.run([tool], capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(f"FAIL: test_onnx_fuzz with the ViT seeds\n{r.stdout}{r.stderr}")
    log(f"fuzzer with the ViT seeds: {r.stdout.strip().splitlines()[-1]}")
    print(f"vit: worst max abs diff {worst:.3g}")


# ---- run directories keep their imported backbone ----

class SmallNet:
    """conv-BN-ReLU-pool-flatten: an imported backbone small enough to train in seconds"""
    @staticmethod
    def make(seed=0):
        import torch
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                   torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
                                   torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()


def plan_payload(plan):
    """a plan file's payload, checked against its header (runtime/planfile.h)"""
    b = open(plan, "rb").read()
    assert b[:8] == b"SSLCPLAN", plan
    n = int.from_bytes(b[16:24], "little")
    assert len(b) == 24 + n and zlib.crc32(b[24:]) == int.from_bytes(b[12:16], "little"), plan
    return b[:24], b[24:]


def plan_file(header, payload, fix_crc=True):
    crc = zlib.crc32(payload) if fix_crc else int.from_bytes(header[12:16], "little")
    return header[:12] + crc.to_bytes(4, "little") + len(payload).to_bytes(8, "little") + payload


def run_outputs(run, spec, tag):
    """what eval (JSON), export (bytes) and embed (array) give for a run directory"""
    ev = json.loads(sslc("eval", run, "--data", spec, "--knn", "2", "--linear", "--epochs", "2", "--batch", "4",
                         "--json", "--quiet").stdout)
    ev.pop("seconds")
    e = path(f"{tag}.onnx")
    sslc("export", run, "-o", e)
    return ev, open(e, "rb").read(), sslc_embed(run, spec)


def cmd_rundir():
    import shutil
    model = torch_export(SmallNet.make(), path("small.onnx"), 17, mode="PRESERVE")
    model_bytes = open(model, "rb").read()
    run = path("run")
    sslc("train", "simclr", "--backbone", model, "--batch", "4", "--data", "fake:16", "--steps", "2",
         "--out", run, "--no-eval")
    spec = "fake:40"
    before = run_outputs(run, spec, "before")
    header, payload = plan_payload(os.path.join(run, "plan.plan"))
    assert payload.count(model_bytes) == 1, "the plan does not hold the model's bytes once"
    info = json.loads(sslc("inspect", os.path.join(run, "plan.plan"), "--json").stdout)
    assert info["backbone_onnx_bytes"] == len(model_bytes), info["backbone_onnx_bytes"]
    log(f"run directory: plan {len(header) + len(payload)} bytes, holding the {len(model_bytes)}-byte model")

    # the .onnx moves, then is gone: the run directory still evaluates, exports and embeds, identically
    moved = path("elsewhere.onnx")
    os.rename(model, moved)
    for tag in ("moved", "deleted"):
        ev, ex, emb = run_outputs(run, spec, tag)
        assert ev == before[0], f"{tag}: eval differs: {ev} vs {before[0]}"
        assert ex == before[1], f"{tag}: export differs"
        assert np.array_equal(emb, before[2]), f"{tag}: embed differs"
        log(f"model {tag}: eval (linear {ev['linear_top1']}, kNN {ev['knn_top1']}), export ({len(ex)} bytes) and "
            f"embed {emb.shape} unchanged")
        if tag == "moved":
            os.remove(moved)

    # a model altered inside the plan: refused by the file's checksum, or (checksum fixed up) by the
    # CRC the plan records for the model
    at = payload.index(model_bytes) + len(model_bytes) - 40  # in the last initializer's data: still parses
    bad = payload[:at] + bytes([payload[at] ^ 0x55]) + payload[at + 1:]
    for fix, expect in ((False, "checksum mismatch"), (True, "the ONNX model stored in the plan has CRC-32")):
        t = path(f"tampered-{fix}")
        shutil.copytree(run, t)
        open(os.path.join(t, "plan.plan"), "wb").write(plan_file(header, bad, fix_crc=fix))
        for cmd in (["export", t, "-o", path("x.onnx")], ["embed", t, "--data", spec, "-o", path("x.npy")],
                    ["eval", t, "--data", spec, "--knn", "2"]):
            one_line_error(cmd, expect, f"tampered model, file checksum {'fixed up' if fix else 'left'}: {cmd[0]}")

    def varint(n):
        out = b""
        while n >= 0x80:
            out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
        return out + bytes([n])
    field = b"\x82\x01" + varint(len(model_bytes)) + model_bytes  # Plan.backbone_onnx, field 16, written last
    assert payload.endswith(field), "Plan.backbone_onnx is not the payload's last field"
    # both checksums fixed up (the file's and backbone_crc32) around a truncated model: the importer refuses it
    half = model_bytes[: len(model_bytes) // 2]
    was, now = f"{zlib.crc32(model_bytes):08x}".encode(), f"{zlib.crc32(half):08x}".encode()
    assert payload.count(was) == 1, "backbone_crc32 not found once in the plan"
    cut = (payload[: -len(field)] + b"\x82\x01" + varint(len(half)) + half).replace(was, now)
    t = path("truncated-model")
    shutil.copytree(run, t)
    open(os.path.join(t, "plan.plan"), "wb").write(plan_file(header, cut))
    one_line_error(["export", t, "-o", path("x.onnx")], "(its imported backbone): not an ONNX model",
                   "truncated model, both checksums fixed up")

    # a plan from before the model was stored (no field 16): recompile
    old = path("old-plan")
    shutil.copytree(run, old)
    open(os.path.join(old, "plan.plan"), "wb").write(plan_file(header, payload[: -len(field)]))
    one_line_error(["export", old, "-o", path("x.onnx")], "the plan does not hold its imported backbone",
                   "plan without the stored model")
    # the fix the line names: recompile with the same options, the run's checkpoint as --params
    again = path("again.onnx")
    open(again, "wb").write(model_bytes)
    sslc("compile", "simclr", "--backbone", again, "--batch", "4", "-o", path("again.plan"))
    sslc("export", path("again.plan"), "--params", os.path.join(run, "checkpoint.safetensors"), "-o", path("again-e.onnx"))
    assert open(path("again-e.onnx"), "rb").read() == before[1], "recompiled plan + checkpoint exports differently"
    log("recompiled plan with the run's checkpoint as --params: the same export")
    print("rundir: eval, export and embed unchanged after the model moved; altered and old plans refused in one line")


# ---- bad files ----

def one_line_error(args, expect, tag):
    r = sslc(*args, check=False)
    lines = r.stderr.strip().splitlines()
    ok = r.returncode not in (0,) and r.returncode < 128 and len(lines) == 1 and lines[0].startswith("sslc: ")
    if not ok or expect not in lines[0]:
        raise SystemExit(f"FAIL: {tag}: exit {r.returncode}, stderr:\n{r.stderr}(expected one line containing {expect!r})")
    log(f"{tag}: {lines[0]}")


def tiny_model(nodes, out_shape, inits=(), outputs=None, opset=17):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    outs = outputs or [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)]
    g = helper.make_graph(nodes, "g", [x], outs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def bad_tensor(name, dims, n):
    """a float initializer whose data (n values) does not match its dims"""
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    t.raw_data = np.zeros(n, np.float32).tobytes()
    return t


def cmd_badfiles():
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], np.zeros(108, np.float32))
    conv = helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv")
    gap = helper.make_node("GlobalAveragePool", ["c"], ["p"], name="gap")
    flat = helper.make_node("Flatten", ["p"], ["y"], name="flat")
    good = tiny_model([conv, gap, flat], ["N", 4], [w])
    onnx.checker.check_model(good, full_check=True)
    onnx.save(good, path("good.onnx"))
    sslc("compile", "simclr", "--backbone", path("good.onnx"), "--batch", "2", "-o", path("good.plan"))
    data = open(path("good.onnx"), "rb").read()
    cases = {
        "truncated": (data[: len(data) // 2], "truncated or malformed"),
        "malformed": (bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)), "not an ONNX model"),
        "empty": (b"", "empty file"),
        "text": (b"this is not a model\n", "not an ONNX model"),
    }
    for tag, (blob, expect) in cases.items():
        open(path(f"{tag}.onnx"), "wb").write(blob)
        one_line_error(["compile", "simclr", "--backbone", path(f"{tag}.onnx"), "-o", path("x.plan")], expect, tag)
    models = {
        "unsupported op": (tiny_model([conv, helper.make_node("LRN", ["c"], ["l"], size=3, name="lrn1"),
                                       helper.make_node("GlobalAveragePool", ["l"], ["p"]), flat], ["N", 4], [w]),
                           "unsupported op 'LRN' in node 'lrn1'"),
        "Erf outside a GELU": (tiny_model([conv, helper.make_node("Erf", ["c"], ["l"], name="erf1"),
                                           helper.make_node("GlobalAveragePool", ["l"], ["p"]), flat], ["N", 4], [w]),
                               "unsupported op 'Erf' in node 'erf1' (only as part of an exact GELU"),
        "unsupported attribute": (tiny_model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv", foo=1), gap, flat],
                                             ["N", 4], [w]), "node 'conv' (Conv): unsupported attribute 'foo'"),
        "unsupported attribute value": (tiny_model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv", auto_pad="WEIRD"),
                                                    gap, flat], ["N", 4], [w]), "auto_pad 'WEIRD' is not supported"),
        "output not a feature vector": (tiny_model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], name="conv")],
                                                   ["N", 4, 8, 8], [w]), "must be a feature vector [N, F]"),
        "bad initializer": (tiny_model([conv, gap, flat], ["N", 4],
                                       [bad_tensor("w", [4, 3, 3, 3], 100)]),
                            "initializer 'w' has 100 values, its shape needs 108"),
        "undefined input": (tiny_model([helper.make_node("Conv", ["x", "nowhere"], ["c"], name="conv"), gap, flat], ["N", 4], [w]),
                            "input 'nowhere' is not defined"),
        "two inputs": (helper.make_model(helper.make_graph(
            [helper.make_node("Add", ["x", "z"], ["y"])], "g",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 8, 8]) for n in "xz"],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])]),
            opset_imports=[helper.make_opsetid("", 17)]), "has 2 inputs"),
        "old opset": (tiny_model([conv, gap, flat], ["N", 4], [w], opset=9), "uses opset 9"),
    }
    for tag, (model, expect) in models.items():
        onnx.save(model, path("bad.onnx"))
        one_line_error(["compile", "simclr", "--backbone", path("bad.onnx"), "-o", path("x.plan")], expect, tag)
    one_line_error(["compile", "simclr", "--backbone", path("good.onnx"), "--backbone-output", "c", "-o", path("x.plan")],
                   "must be a feature vector", "--backbone-output not a feature vector")
    one_line_error(["compile", "simclr", "--backbone", path("good.onnx"), "--backbone-output", "nope", "-o", path("x.plan")],
                   "no value named 'nope'", "--backbone-output unknown")
    one_line_error(["compile", "simclr", "--backbone", path("missing.onnx"), "-o", path("x.plan")], "cannot open", "missing file")
    # export sources
    os.makedirs(path("emptydir"), exist_ok=True)
    one_line_error(["export", path("emptydir"), "-o", path("x.onnx")], "no plan.plan", "run directory without a plan")
    one_line_error(["export", path("truncated.onnx"), "-o", path("x.onnx")], "", "export of a non-plan")
    st.save(path("p.safetensors"), {"backbone.conv.weight": np.zeros((3, 3), np.float32)})
    one_line_error(["export", path("good.plan"), "--params", path("p.safetensors"), "-o", path("x.onnx")],
                   "no tensor 'backbone.w'", "weights missing a tensor")
    st.save(path("p.safetensors"), {"backbone.w": np.zeros((3, 3), np.float32)})
    one_line_error(["export", path("good.plan"), "--params", path("p.safetensors"), "-o", path("x.onnx")],
                   "the encoder expects", "weights with a wrong shape")
    one_line_error(["export", path("good.plan"), "--opset", "9", "-o", path("x.onnx")], "--opset must be in [13, 17]", "bad opset")
    sslc("export", path("good.plan"), "-o", path("x.onnx"))
    first = open(path("x.onnx"), "rb").read()
    # the plan holds the model: the file imported from may change or go (test_onnx_rundir: run directories)
    changed = tiny_model([conv, gap, flat], ["N", 4], [helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3],
                                                                          np.ones(108, np.float32))])
    onnx.save(changed, path("good.onnx"))
    sslc("export", path("good.plan"), "-o", path("x.onnx"))
    assert open(path("x.onnx"), "rb").read() == first, "export changed with the file the plan was imported from"
    os.rename(path("good.onnx"), path("moved.onnx"))
    sslc("export", path("good.plan"), "-o", path("x.onnx"))
    assert open(path("x.onnx"), "rb").read() == first, "export changed after the imported file moved"
    log("imported file changed, then gone: export of its plan unchanged")
    print("badfiles: every case ended in one line")


# ---- ViT multi-crop runs ----

def cmd_vitcrop():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (5, 3, 32, 32)).astype(np.float32)  # normalized images: `sslc features` takes those
    worst = 0.0
    for method, backbone in (("dino", "vit-tiny"), ("swav", "vit-small")):
        run = path(f"{method}-run")
        sslc("train", method, "--backbone", backbone, "--width", "0.125", "--depth", "2", "--image-size", "32",
             "--batch", "4", "--set", "num_crops=6", "--data", "fake:16:3x32x32", "--steps", "3", "--no-eval",
             "--device", "ref", "--out", run)
        onnx_file = path(f"{method}.onnx")
        sslc("export", run, "--raw-input", "-o", onnx_file)
        m = check_model(onnx_file)
        dims = [d.dim_value or d.dim_param for d in m.graph.input[0].type.tensor_type.shape.dim]
        assert dims[1:] == [3, 32, 32], f"{method}: exported input {dims}, want [N, 3, 32, 32]"
        worst = max(worst, compare(f"{method} {backbone} after 6-crop training: ONNX Runtime vs sslc features",
                                   run_ort(onnx_file, x)["features"], sslc_features(run, x)["features"]))
    print(f"vitcrop: ViT multi-crop runs export at the global size, max abs diff {worst:.3g}")


def main():
    global SSLC, WORK, TOL
    ap = argparse.ArgumentParser()
    ap.add_argument("sslc")
    ap.add_argument("workdir")
    ap.add_argument("what", choices=["export", "import", "resnet50", "vit", "vitcrop", "badfiles", "rundir"])
    ap.add_argument("--tol", type=float, default=TOL)
    a = ap.parse_args()
    SSLC, WORK, TOL = a.sslc, a.workdir, a.tol
    os.makedirs(WORK, exist_ok=True)
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}")
    {"export": cmd_export, "import": cmd_import, "resnet50": cmd_resnet50, "vit": cmd_vit, "vitcrop": cmd_vitcrop,
     "badfiles": cmd_badfiles, "rundir": cmd_rundir}[a.what]()


if __name__ == "__main__":
    main()

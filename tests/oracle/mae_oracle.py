"""PyTorch oracle for MAE: a masked autoencoder written here after facebookresearch/mae's
models_mae.py (random_masking, forward_encoder, forward_decoder, forward_loss, same module names)
on the timm-structured ViT of vit_oracle.py, fed the masks sslc drew. sslc step draws each
step's per-sample permutation (aug.shuffle.mask) from the plan's seed and dumps it; this script
replays those permutations as the reference's ids_shuffle (the argsort of its noise) and
compares the loss of every step, every gradient of the first step, every parameter and AdamW
slot after the last step, and every parameter's change over the run.

sslc departs from the reference in the position embeddings (learnable, as its ViT, instead of
fixed 2-D sin-cos) and the decoder's Linear init; both sides here start from the same random
values, so neither matters for the comparison.

usage: mae_oracle.py SSLC WORKDIR [--width 0.125] [--depth 2] [--f64 --tol 1e-6] [--set k=v]..."""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from compare import rel  # noqa: E402
from vit_oracle import Block, VisionTransformer  # noqa: E402


class MAE(nn.Module):
    def __init__(self, img_size, patch, chans, D, depth, heads, dec_dim, dec_depth, dec_heads, mask_ratio, norm_pix):
        super().__init__()
        self.backbone = VisionTransformer(img_size, patch, chans, D, depth, heads)
        L = (img_size // patch) ** 2
        self.patch, self.mask_ratio, self.norm_pix_loss = patch, mask_ratio, norm_pix
        self.decoder_embed = nn.Linear(D, dec_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dec_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, L + 1, dec_dim))
        self.decoder_blocks = nn.ModuleList([Block(dec_dim, dec_heads) for _ in range(dec_depth)])
        self.decoder_norm = nn.LayerNorm(dec_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(dec_dim, patch * patch * chans, bias=True)

    def patchify(self, imgs):
        p = self.patch
        h = w = imgs.shape[2] // p
        x = imgs.reshape(imgs.shape[0], imgs.shape[1], h, p, w, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(imgs.shape[0], h * w, p * p * imgs.shape[1])

    def random_masking(self, x, ids_shuffle):
        # the reference draws noise and takes ids_shuffle = argsort(noise); here sslc's draw is given
        N, L, D = x.shape
        len_keep = int(L * (1 - self.mask_ratio))
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
        mask = torch.ones([N, L], dtype=x.dtype)
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, dim=1, index=ids_restore)
        return x_masked, mask, ids_restore

    def forward_encoder(self, x, ids_shuffle):
        b = self.backbone
        x = b.patch_embed(x)
        x = x + b.pos_embed[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x, ids_shuffle)
        cls_token = b.cls_token + b.pos_embed[:, :1, :]
        x = torch.cat((cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        for blk in b.blocks:
            x = blk(x)
        return b.norm(x), mask, ids_restore

    def forward_decoder(self, x, ids_restore):
        x = self.decoder_embed(x)
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1)
        x = x + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_pred(self.decoder_norm(x))
        return x[:, 1:, :]

    def forward_loss(self, imgs, pred, mask):
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.e-6) ** .5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def forward(self, imgs, ids_shuffle):
        latent, mask, ids_restore = self.forward_encoder(imgs, ids_shuffle)
        return self.forward_loss(imgs, self.forward_decoder(latent, ids_restore), mask)


def run_torch(model, a, v0, shuffles, f64):
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, a.beta2), weight_decay=a.wd, eps=a.adam_eps)
    if f64:
        model.double()
        v0 = v0.double()
    model.train()
    losses, grads = [], {}
    for s in range(a.steps):
        opt.zero_grad()
        loss = model(v0, shuffles[s])
        loss.backward()
        losses.append(loss.item())
        if s == 0:
            grads = {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters()}
        opt.step()
    slots = {}
    for n, p in model.named_parameters():
        for k in ("exp_avg", "exp_avg_sq"):
            slots[f"opt.{k}.{n}"] = opt.state[p][k].detach().numpy().copy()
    return losses, grads, {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}, slots


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sslc")
    ap.add_argument("workdir")
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--patch-size", type=int, default=4)
    ap.add_argument("--image-size", type=int, default=16)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--beta2", type=float, default=0.95)
    ap.add_argument("--adam-eps", type=float, default=1e-3)  # as vit_oracle.py: smooth in the gradient
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--f64", action="store_true")
    ap.add_argument("--device", default=None)
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    opts = {"mask_ratio": 0.75, "decoder_embed_dim": 16, "decoder_depth": 1, "decoder_num_heads": 2, "norm_pix_loss": 1}
    for kv in a.set:
        k, v = kv.split("=", 1)
        opts[k] = type(opts[k])(v)
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    os.makedirs(a.workdir, exist_ok=True)
    D = int(round(192 * a.width))
    model = MAE(a.image_size, a.patch_size, a.channels, D, a.depth, 3, opts["decoder_embed_dim"],
                opts["decoder_depth"], opts["decoder_num_heads"], opts["mask_ratio"], bool(opts["norm_pix_loss"]))
    with torch.no_grad():  # every parameter non-trivial, so each one's use is checked
        for n, p in model.named_parameters():
            if n.endswith("norm.weight") or ".norm1.weight" in n or ".norm2.weight" in n or n == "decoder_norm.weight":
                p.uniform_(0.5, 1.5)
            elif p.dim() == 1:
                p.uniform_(-0.1, 0.1)
            elif "patch_embed" not in n:
                nn.init.trunc_normal_(p, std=0.1, a=-0.2, b=0.2)
    sd0 = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    v0 = torch.randn(a.batch, a.channels, a.image_size, a.image_size)

    pfile, xfile, dfile = (os.path.join(a.workdir, n) for n in ("params.safetensors", "inputs.safetensors", "dump.safetensors"))
    plan = os.path.join(a.workdir, "mae.plan")
    st.save(pfile, sd0)
    st.save(xfile, {"views.0": v0.numpy()})
    cmd = [a.sslc, "compile", "mae", "--backbone", "vit-tiny", "--width", str(a.width), "--depth", str(a.depth),
           "--patch-size", str(a.patch_size), "--image-size", str(a.image_size), "--channels", str(a.channels),
           "--batch", str(a.batch), "--augment", "none", "--optimizer", "adamw", "--lr", str(a.lr),
           "--weight-decay", str(a.wd), "--adam-eps", str(a.adam_eps), "--adam-beta2", str(a.beta2), "-o", plan]
    cmd += [f"--set={k}={v}" for k, v in opts.items()]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([a.sslc, "step", plan, "--params", pfile, "--inputs", xfile, "--steps", str(a.steps), "--dump", dfile]
                   + (["--f64"] if a.f64 else []) + (["--device", a.device] if a.device else []), check=True)
    got = st.load(dfile)
    shuffles = []
    for s in range(a.steps):
        ids = got.pop(f"aug.shuffle.mask.{s}")
        L = (a.image_size // a.patch_size) ** 2
        assert ids.shape == (a.batch, L) and all(sorted(r) == list(range(L)) for r in ids.tolist()), "not permutations"
        shuffles.append(torch.from_numpy(ids.astype(np.int64)))
    assert any(not torch.equal(shuffles[0][0], r) for r in shuffles[0][1:]) and not torch.equal(shuffles[0], shuffles[1]), \
        "the masks should differ between samples and steps"

    losses, grads, final, slots = run_torch(model, a, v0, shuffles, a.f64)
    ref = {f"loss.{s}": np.array(v, np.float64 if a.f64 else np.float32) for s, v in enumerate(losses)}
    ref.update({"grad." + n: g for n, g in grads.items()})
    ref.update(final)
    ref.update(slots)
    failures, errs = [], []
    for n, r in ref.items():
        if n not in got:
            failures.append(f"{n}: missing from sslc's dump")
            continue
        if got[n].shape != r.shape:
            failures.append(f"{n}: shape {got[n].shape} vs {r.shape}")
            continue
        errs.append((rel(got[n], r), n))
        if n in sd0:  # the change over the run, so the initial values do not dominate
            errs.append((rel(got[n].astype(np.float64) - sd0[n], r.astype(np.float64) - sd0[n]) / 10, "delta." + n))
    failures += [f"{n}: in sslc's dump, not in the PyTorch model" for n in got if n not in ref]
    failures += [f"{n}: rel err {e:.3g} > {a.tol:.3g}" for e, n in errs if not e <= a.tol]
    worst = max(e for e, _ in errs) if errs else float("nan")
    print(f"mae oracle ({'f64' if a.f64 else 'f32'}{', ' + a.device if a.device else ''}, {a.steps} steps): "
          f"{len(errs)} comparisons, losses {[round(x, 6) for x in losses]}, max rel err {worst:.2e}")
    for e, n in sorted(errs, reverse=True)[:5 if os.environ.get("ORACLE_VERBOSE") else 0]:
        print(f"  {e:.2e} {n}")
    for f in failures[:20]:
        print("  MISMATCH", f)
    sys.exit(1 if failures or not errs else 0)


if __name__ == "__main__":
    main()

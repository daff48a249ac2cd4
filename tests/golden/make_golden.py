#!/usr/bin/python3
"""make_golden.py — writes tests/golden/tiny_net.bin, the PyTorch reference that
tests/test_nn_golden.c reproduces: a tiny encoder / decoder / classifier in float64 (conv 3x3 and 5x5 with
stride 1 and 2, batch norm, leaky ReLU, ReLU, max pool 2 and 4, dense, reshape, pixel
shuffle, sigmoid) trained with MSE + weighted L1 + weighted DSSIM + BCE-with-logits and Adam.

Run with Debian's torch (python3-torch 1.13):  /usr/bin/python3 tests/golden/make_golden.py

File format (little-endian): b"SLGOLD1\n", u32 record count, then per record: u32 name length,
name bytes, u32 ndim, ndim x u32 dims, float32 data (row-major). Names: "x", "target", "mask",
"labels", "init.<tensor>", "step1.out", "step1.logits", "step1.loss.{mse,l1,dssim,bce,total}",
"step1.grad.<tensor>", "step1.dx", "stepN.total" (N = 1..3), "final.<tensor>" (params and batch-norm
buffers after 3 Adam steps), "eval.out" (enc+dec in eval mode after the steps).
"""
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_num_threads(1)


class Enc(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 5, 2, 2)
        self.fc1 = nn.Linear(256, 32)

    def forward(self, x):
        x = F.max_pool2d(self.bn1(F.leaky_relu(self.conv1(x), 0.1)), 2)
        x = F.relu(self.conv2(x))
        return self.fc1(torch.flatten(x, 1))


class Dec(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc2 = nn.Linear(32, 256)
        self.up1 = nn.Conv2d(16, 64, 3, 1, 1)
        self.up2 = nn.Conv2d(16, 48, 3, 1, 1)
        self.out = nn.Conv2d(12, 3, 5, 1, 2)

    def forward(self, z):
        x = self.fc2(z).view(-1, 16, 4, 4)
        x = F.pixel_shuffle(F.leaky_relu(self.up1(x), 0.1), 2)
        x = F.pixel_shuffle(F.leaky_relu(self.up2(x), 0.1), 2)
        return torch.sigmoid(self.out(x))


class Cls(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 2, 1)
        self.fc1 = nn.Linear(16, 8)
        self.fc2 = nn.Linear(8, 1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 4)
        x = F.leaky_relu(self.fc1(torch.flatten(x, 1)), 0.2)
        return self.fc2(x).view(-1)


def gaussian_window():
    k = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-k * k / (2 * 1.5 * 1.5))
    return g / g.sum()


def dssim(pred, target, weight):
    """(1 - SSIM)/2, 11x11 Gaussian sigma 1.5, valid window, per channel; weight at window centres."""
    C = pred.shape[1]
    g = gaussian_window()
    w = torch.outer(g, g).expand(C, 1, 11, 11).contiguous()
    blur = lambda t: F.conv2d(t, w, groups=C)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = blur(pred), blur(target)
    sxx = blur(pred * pred) - mx * mx
    syy = blur(target * target) - my * my
    sxy = blur(pred * target) - mx * my
    s = (2 * mx * my + c1) * (2 * sxy + c2) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    wv = weight[:, :, 5:-5, 5:-5]
    return (1 - (s * wv).sum() / (C * wv.sum())) / 2


def losses(enc, dec, cls, x, target, mask, labels):
    out = dec(enc(x))
    logits = cls(out + target)  # the target makes the classifier's inputs differ between samples
    mse = F.mse_loss(out, target)
    l1 = ((out - target).abs() * mask).sum() / (3 * mask.sum())
    ds = dssim(out, target, mask)
    bce = F.binary_cross_entropy_with_logits(logits, labels)
    total = mse + l1 + ds + 0.5 * bce
    return out, logits, dict(mse=mse, l1=l1, dssim=ds, bce=bce, total=total)


def main():
    # Modules are initialised in float32 (so the stored init is exact), then the reference runs in
    # float64: the golden values are the exact answers our float32 engine is compared with.
    enc, dec, cls = Enc().double(), Dec().double(), Cls().double()
    nets = dict(enc=enc, dec=dec, cls=cls)
    B = 4
    x = torch.rand(B, 3, 16, 16).double().requires_grad_(True)
    target = torch.rand(B, 3, 16, 16).double()
    mask = (torch.rand(B, 1, 16, 16) * 2).double()
    labels = torch.tensor([1.0, 0.0, 1.0, 0.0]).double()
    recs = [("x", x.detach()), ("target", target), ("mask", mask), ("labels", labels)]

    def tensors(prefix_kind):
        for pre, net in nets.items():
            for name, t in net.state_dict().items():
                yield f"{prefix_kind}.{pre}.{name}", t

    recs += [(n, t.clone()) for n, t in tensors("init")]
    params = [p for net in nets.values() for p in net.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.5, 0.999), eps=1e-8)
    for step in range(1, 4):
        opt.zero_grad()
        if x.grad is not None:
            x.grad = None
        out, logits, ls = losses(enc, dec, cls, x, target, mask, labels)
        ls["total"].backward()
        for pre, net in nets.items():
            for name, p in net.named_parameters():
                assert p.grad.abs().max() > 1e-6, f"{pre}.{name}: gradient vanishes, the comparison would be noise"
        if step == 1:
            recs += [("step1.out", out.detach()), ("step1.logits", logits.detach())]
            recs += [(f"step1.loss.{k}", v.detach().reshape(1)) for k, v in ls.items()]
            for pre, net in nets.items():
                for name, p in net.named_parameters():
                    recs.append((f"step1.grad.{pre}.{name}", p.grad.detach().clone()))
            recs.append(("step1.dx", x.grad.detach().clone()))
        recs.append((f"step{step}.total", ls["total"].detach().reshape(1)))
        opt.step()
    recs += [(n, t.clone()) for n, t in tensors("final")]
    enc.eval(), dec.eval()
    with torch.no_grad():
        recs.append(("eval.out", dec(enc(x))))

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_net.bin")
    with open(path + ".tmp", "wb") as f:
        f.write(b"SLGOLD1\n")
        f.write(struct.pack("<I", len(recs)))
        for name, t in recs:
            t = t.detach().float().contiguous()
            nb = name.encode()
            dims = list(t.shape) or [1]
            f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<I", len(dims)))
            f.write(struct.pack(f"<{len(dims)}I", *dims))
            f.write(t.numpy().astype("<f4").tobytes())
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: {len(recs)} records")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PyTorch reference of swaplab's CNN detectors' training step, for bench/detect_bench.sh.

The same networks as detect/meso.c and detect/resnet.c (Meso-4, MesoInception-4 with plain 5x5 and
7x7 convolutions in place of the paper's dilated 3x3s, as swaplab builds it, and the small ResNet-10),
the same step as detect/train.c: forward in training mode (batch norm on batch statistics, dropout
0.5), BCE with logits, backward, Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8).

Prints one JSON line: {"impl", "model", "size", "batch", "steps", "threads", "img_per_s" (from the
median timed step), "best_img_per_s", "mean_img_per_s", "cpu_img_per_s" (images per second of process
CPU time / threads), "params", "loss"}.
    /usr/bin/python3 bench/torch_detect.py --model meso4 --size 128 --batch 32 --steps 10 --threads 2
"""
import argparse
import json
import time

import torch
import torch.nn as nn

import torch_malloc


def conv(cin, cout, k, stride=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class Meso4Blocks(nn.Module):
    """Meso-4's conv blocks from index `first` on, and its head (detect/meso.c meso_blocks)."""

    def __init__(self, first, cin, size_after):
        super().__init__()
        cout, ks, pools = [8, 8, 16, 16], [3, 5, 5, 5], [2, 2, 2, 4]
        layers = []
        for i in range(first, 4):
            layers += [conv(cin, cout[i], ks[i]), nn.BatchNorm2d(cout[i]), nn.ReLU(), nn.MaxPool2d(pools[i])]
            cin = cout[i]
            size_after //= pools[i]
        layers += [nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * size_after * size_after, 16), nn.LeakyReLU(0.1),
                   nn.Dropout(0.5), nn.Linear(16, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class Meso4(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.net = Meso4Blocks(0, 3, size)

    def forward(self, x):
        return self.net(x)


class Inception(nn.Module):
    def __init__(self, cin, ch):
        super().__init__()
        ks = [0, 3, 5, 7]
        self.branches = nn.ModuleList()
        for c, k in zip(ch, ks):
            layers = [conv(cin, c, 1), nn.ReLU()]
            if k:
                layers += [conv(c, c, k), nn.ReLU()]
            self.branches.append(nn.Sequential(*layers))

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


class MesoInception4(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.b1 = Inception(3, [1, 4, 4, 2])
        self.mid = nn.Sequential(nn.BatchNorm2d(11), nn.MaxPool2d(2))
        self.b2 = Inception(11, [2, 4, 4, 2])
        self.tail = nn.Sequential(nn.BatchNorm2d(12), nn.MaxPool2d(2), Meso4Blocks(2, 12, size // 4))

    def forward(self, x):
        return self.tail(self.b2(self.mid(self.b1(x))))


class Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(conv(c, c, 3), nn.BatchNorm2d(c), nn.ReLU(), conv(c, c, 3), nn.BatchNorm2d(c))

    def forward(self, x):
        return torch.relu(x + self.body(x))


class ResNet10(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.net = nn.Sequential(
            conv(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), Res(16),
            conv(16, 32, 3, 2), nn.BatchNorm2d(32), nn.ReLU(), Res(32),
            conv(32, 64, 3, 2), nn.BatchNorm2d(64), nn.ReLU(), Res(64),
            nn.MaxPool2d(4), nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * (size // 32) ** 2, 1))

    def forward(self, x):
        return self.net(x)


MODELS = {"meso4": Meso4, "mesoinception4": MesoInception4, "resnet10": ResNet10}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="meso4", choices=sorted(MODELS))
    ap.add_argument("--size", type=int, default=128, help="input side (a multiple of 32)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--malloc", default="tuned", choices=["tuned", "default"],
                    help="tuned (default): glibc keeps freed tensors' memory (bench/torch_malloc.py), "
                         "PyTorch at its best; default: glibc as it comes, one page fault per page per step")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    tuned = torch_malloc.tune(a.malloc)
    if a.size % 32 or a.size < 32:
        ap.error("--size must be a multiple of 32")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = MODELS[a.model](a.size)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    x = torch.rand(a.batch, 3, a.size, a.size)
    y = (torch.arange(a.batch) % 2).float().unsqueeze(1)
    loss_fn = nn.BCEWithLogitsLoss()

    def step():
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    for _ in range(a.warmup):
        step()
    times = []
    c0 = time.process_time()
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = float(step())
        times.append(time.perf_counter() - t0)
    cpu = time.process_time() - c0
    times.sort()
    n = len(times)
    med = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    print(json.dumps({"impl": "pytorch " + torch.__version__, "malloc": "tuned" if tuned else "default", "model": a.model, "size": a.size, "batch": a.batch,
                      "steps": a.steps, "threads": a.threads, "img_per_s": round(a.batch / med, 3),
                      "best_img_per_s": round(a.batch / times[0], 3), "mean_img_per_s": round(a.batch * n / sum(times), 3),
                      "cpu_img_per_s": round(a.batch * n / (cpu / a.threads), 3),
                      "params": sum(p.numel() for p in model.parameters()), "loss": round(loss, 6)}))


if __name__ == "__main__":
    main()

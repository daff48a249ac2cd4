#!/usr/bin/python3
"""torch_reference.py — the swaplab face-swap autoencoder and its training step in PyTorch eager,
the reference that bench/run.sh puts side by side with swaplab (bench/bench_train.c).

Same presets as model/swap_model.c (shared encoder, one decoder per identity, tensor names equal to
swaplab's safetensors names), same step: for each side, B faces -> encoder -> own decoder -> MSE
against the input, backward (gradients accumulate), then one Adam step (lr 5e-5, betas 0.5/0.999).
As swaplab's step (swap_encoder_group, SWAP_ENCODER_FACES = 64), both sides go through the encoder
as one batch of 2B faces when 2B <= 64 (one backward of the summed losses), else one side at a time.
Prints one JSON line: {"preset", "batch", "steps", "threads", "device", "img_per_s" (from the
median step time), "best_img_per_s", "mean_img_per_s", "cpu_img_per_s" (process CPU seconds / threads, the
idle-machine estimate on a shared machine), "loss"}; warm-up steps are not timed.

Run with Debian's /usr/bin/python3 (python3-torch):
    /usr/bin/python3 bench/torch_reference.py --preset original --batch 16 --steps 5 --threads 2
Docs: https://pytorch.org/docs/stable/nn.html, https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
"""
import argparse
import json
import time

import torch
import torch.nn as nn

import torch_malloc

ENCODER_FACES = 64  # model/swap_model.h SWAP_ENCODER_FACES: most faces per encoder pass in a step

# size, encoder conv widths, dense width, bottleneck channels (at size / 2**len(enc)),
# encoder upscale width, decoder upscale widths — keep in step with model/swap_model.c.
PRESETS = {
    "original": dict(size=64, enc=[128, 256, 512, 1024], dense=1024, bottleneck=1024, enc_up=512,
                     dec=[256, 128, 64]),
    "lite": dict(size=64, enc=[64, 128, 256, 512], dense=512, bottleneck=512, enc_up=256,
                 dec=[128, 64, 32]),
    "tiny": dict(size=64, enc=[32, 64, 128, 256], dense=256, bottleneck=256, enc_up=128,
                 dec=[64, 32, 16]),
    "hd128": dict(size=128, enc=[64, 128, 256, 512, 1024], dense=1024, bottleneck=1024, enc_up=512,
                  dec=[256, 128, 64, 32]),
    "tiny128": dict(size=128, enc=[32, 64, 128, 256], dense=256, bottleneck=256, enc_up=128, dec=[64, 32, 16]),
}


class Upscale(nn.Module):
    """conv3x3 to 4*c, leaky 0.1, pixel shuffle x2 (named <name>.conv like swaplab's layers)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * 4, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x):
        return self.shuffle(self.act(self.conv(x)))


class Encoder(nn.Module):
    def __init__(self, p):
        super().__init__()
        cin = 3
        self.convs = nn.ModuleList()
        for c in p["enc"]:
            self.convs.append(nn.Conv2d(cin, c, 5, stride=2, padding=2))
            cin = c
        self.act = nn.LeakyReLU(0.1)
        self.s = p["size"] >> len(p["enc"])
        self.bottleneck = p["bottleneck"]
        self.dense1 = nn.Linear(cin * self.s * self.s, p["dense"])
        self.dense2 = nn.Linear(p["dense"], p["bottleneck"] * self.s * self.s)
        self.up1 = Upscale(p["bottleneck"], p["enc_up"])

    def forward(self, x):
        for conv in self.convs:
            x = self.act(conv(x))
        x = self.dense2(self.dense1(torch.flatten(x, 1)))
        x = x.view(-1, self.bottleneck, self.s, self.s)
        return self.up1(x)


class Decoder(nn.Module):
    # mask=True: a 4th output channel, the learned face mask (swaplab train --learn-mask), under the same sigmoid
    def __init__(self, p, mask=False):
        super().__init__()
        self.ups = nn.ModuleList()
        cin = p["enc_up"]
        for c in p["dec"]:
            self.ups.append(Upscale(cin, c))
            cin = c
        self.out = nn.Conv2d(cin, 4 if mask else 3, 5, padding=2)

    def forward(self, x):
        for up in self.ups:
            x = up(x)
        return torch.sigmoid(self.out(x))


class SwapModel(nn.Module):
    def __init__(self, preset, n_identities=2, mask=False):
        super().__init__()
        p = PRESETS[preset]
        self.size = p["size"]
        self.encoder = Encoder(p)
        self.decoders = nn.ModuleList(Decoder(p, mask) for _ in range(n_identities))


def forward_flops(model):
    """Multiply-adds x 2 of one image through the encoder and one decoder (conv and dense)."""
    flops = 0
    hooks = []

    def conv_hook(mod, inp, out):
        nonlocal flops
        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels
        flops += 2 * k * out.shape[1] * out.shape[2] * out.shape[3]

    def lin_hook(mod, inp, out):
        nonlocal flops
        flops += 2 * mod.in_features * mod.out_features

    for m in list(model.encoder.modules()) + list(model.decoders[0].modules()):
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    with torch.no_grad():
        model.decoders[0](model.encoder(torch.zeros(1, 3, model.size, model.size)))
    for h in hooks:
        h.remove()
    return flops


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="original", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=16, help="faces per side per step")
    ap.add_argument("--steps", type=int, default=5, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--params", action="store_true", help="print the parameter count and exit")
    ap.add_argument("--malloc", default="tuned", choices=["tuned", "default"],
                    help="tuned (default): glibc keeps freed tensors' memory (bench/torch_malloc.py), "
                         "PyTorch at its best; default: glibc as it comes, one page fault per page per step")
    ap.add_argument("--infer", action="store_true",
                    help="time inference instead (eval mode, no grad: a batch through the encoder and one "
                         "decoder, as swaplab swap runs it); img/s counts the batch")
    a = ap.parse_args()
    tuned = torch_malloc.tune(a.malloc)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = SwapModel(a.preset)
    if a.params:
        print(json.dumps({"preset": a.preset, "params": sum(p.numel() for p in model.parameters()),
                          "gflop_fwd": forward_flops(model) / 1e9}))
        return
    dev = torch.device(a.device)
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=5e-5, betas=(0.5, 0.999), eps=1e-8)
    s = model.size
    faces = [torch.rand(a.batch, 3, s, s, device=dev) for _ in model.decoders]
    loss_fn = nn.MSELoss()

    def infer_step():
        with torch.no_grad():
            y = model.decoders[1](model.encoder(faces[0]))
        return y[0, 0, 0, 0]

    def train_step():
        opt.zero_grad(set_to_none=False)
        total = 0.0
        if 2 * a.batch <= ENCODER_FACES:  # one encoder pass over both sides
            z = model.encoder(torch.cat(faces))
            losses = [loss_fn(dec(z[i * a.batch:(i + 1) * a.batch]), x)
                      for i, (x, dec) in enumerate(zip(faces, model.decoders))]
            sum(losses).backward()
            total = sum(l.detach() for l in losses)
        else:
            for x, dec in zip(faces, model.decoders):
                loss = loss_fn(dec(model.encoder(x)), x)
                loss.backward()
                total += loss.detach()
        opt.step()
        return total

    if a.infer:
        model.eval()
    step = infer_step if a.infer else train_step

    for _ in range(a.warmup):
        step()
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    sync()
    times = []
    c0 = time.process_time()
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = float(step())  # float() waits for the device
        sync()
        times.append(time.perf_counter() - t0)
    cpu = time.process_time() - c0
    imgs = a.batch if a.infer else a.batch * len(model.decoders)
    times.sort()
    n = len(times)
    med = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    print(json.dumps({"impl": "pytorch " + torch.__version__, "malloc": "tuned" if tuned else "default", "preset": a.preset, "batch": a.batch,
                      "steps": a.steps, "threads": a.threads, "device": a.device,
                      "mode": "infer" if a.infer else "train",
                      "img_per_s": round(imgs / med, 3), "best_img_per_s": round(imgs / times[0], 3),
                      "mean_img_per_s": round(imgs * n / sum(times), 3),
                      "cpu_img_per_s": round(imgs * n / (cpu / a.threads), 3),
                      "loss": None if a.infer else round(loss, 6)}))


if __name__ == "__main__":
    main()

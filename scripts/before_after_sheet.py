#!/usr/bin/python3
"""before_after_sheet.py — the swap before/after sheet of docs/: for a few held-out faces of each
direction, the source frame, the swapped frame as `swaplab swap` wrote it (label, provenance), the
raw decoder output and the renderer's ground truth (A's frame with B's inner face).

Usage (after `swaplab synth --ground-truth`, `swaplab train` and `swaplab swap --raw` both ways):
  /usr/bin/python3 scripts/before_after_sheet.py --sets FACES --swaps SWAPS --faces 9 19 29 --out sheet.png
Needs Pillow (Debian python3-pil)."""
import argparse
import json
import os

from PIL import Image, ImageDraw, ImageFont


def font(size):
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", required=True, help="the synth output (face sets + ground-truth/)")
    ap.add_argument("--swaps", required=True, help="swap --out directory (both directions, with --raw)")
    ap.add_argument("--faces", type=int, nargs="+", required=True, help="face indices to show")
    ap.add_argument("--tile", type=int, default=128)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    pairs = sorted(d for d in os.listdir(a.swaps) if "_to_" in d and os.path.isdir(os.path.join(a.swaps, d)))
    heads = ["source frame", "swap (as written)", "decoder output", "ground truth (crop)"]
    T, pad, top = a.tile, 6, 26
    rows = [(p, i) for p in pairs for i in a.faces]
    sheet = Image.new("RGB", (len(heads) * (T + pad) + pad, top + len(rows) * (T + pad) + pad), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    f = font(13)
    for c, h in enumerate(heads):
        draw.text((pad + c * (T + pad), 6), h, fill=(20, 20, 20), font=f)
    for r, (pair, i) in enumerate(rows):
        src, dst = pair.split("_to_")
        name = "%06d.png" % i
        with open(os.path.join(a.sets, src, "faces.jsonl")) as fh:
            rec = json.loads(fh.readlines()[i])
        tiles = [
            os.path.join(a.sets, src, rec["source"]),
            os.path.join(a.swaps, pair, name),
            os.path.join(a.swaps, pair, "raw", name),
            os.path.join(a.sets, "ground-truth", "%s__%s" % (src, dst), "%06d.png" % i),
        ]
        y = top + r * (T + pad)
        for c, path in enumerate(tiles):
            im = Image.open(path).convert("RGB").resize((T, T), Image.Resampling.LANCZOS)
            sheet.paste(im, (pad + c * (T + pad), y))
        draw.text((pad + 2, y + 2), "%s -> %s #%d" % (src[-4:], dst[-4:], i), fill=(255, 255, 0), font=font(10))
    sheet.save(a.out, optimize=True)


if __name__ == "__main__":
    main()

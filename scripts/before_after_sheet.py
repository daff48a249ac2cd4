#!/usr/bin/python3
"""before_after_sheet.py — the swap before/after sheets of docs/: for a few faces of each swap
direction, the frame the face goes into, the swapped frame as `swaplab swap` wrote it under one or
more settings (label and provenance included), a zoom on the face of each (to judge sharpness, the
mask's edge and the colour), the raw decoder output and, for synthetic volunteers, the renderer's
ground truth (A's frame with B's inner face; real photos have none).

Usage (after `swaplab swap --raw` into one output directory per setting):
  /usr/bin/python3 scripts/before_after_sheet.py --sets FACES --swaps OLD NEW --labels "before" "after" \\
      --faces 9 19 29 --out sheet.png
FACES holds the face sets the frames come from (FACES/<subject>/faces.jsonl) and, for synthetic
sets made with `swaplab synth --ground-truth`, FACES/ground-truth/. Needs Pillow (python3-pil)."""
import argparse
import json
import os

from PIL import Image, ImageDraw, ImageFont


def font(size):
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def face_box(rec, w, h, grow=0.25):
    """The landmarks' bounding box in the frame, grown by `grow` of its side, made square."""
    pts = rec.get("landmarks_source") or rec["landmarks"]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    side = max(max(xs) - min(xs), max(ys) - min(ys)) * (1 + 2 * grow)
    x0, y0 = max(0, cx - side / 2), max(0, cy - side / 2)
    return (int(x0), int(y0), int(min(w, x0 + side)), int(min(h, y0 + side)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", required=True, help="directory of the face sets (and ground-truth/ for synthetic ones)")
    ap.add_argument("--swaps", required=True, nargs="+", help="swap --out directories (with --raw), one per setting")
    ap.add_argument("--labels", nargs="+", help="a name per --swaps directory (default: the directory names)")
    ap.add_argument("--faces", type=int, nargs="+", required=True, help="face indices to show")
    ap.add_argument("--tile", type=int, default=160)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    labels = a.labels or [os.path.basename(s.rstrip("/")) for s in a.swaps]
    if len(labels) != len(a.swaps):
        ap.error("give one --labels entry per --swaps directory")
    pairs = sorted(d for d in os.listdir(a.swaps[0]) if "_to_" in d and os.path.isdir(os.path.join(a.swaps[0], d)))
    heads = ["frame"] + ["swap: " + l for l in labels] + ["face: " + l for l in labels]
    heads += ["decoder output", "ground truth"]
    T, pad, top = a.tile, 6, 26
    rows = []
    for p in pairs:
        for i in a.faces:
            if os.path.exists(os.path.join(a.swaps[0], p, "%06d.png" % i)):
                rows.append((p, i))
    sheet = Image.new("RGB", (len(heads) * (T + pad) + pad, top + len(rows) * (T + pad) + pad), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    f = font(12)
    for c, h in enumerate(heads):
        draw.text((pad + c * (T + pad), 6), h, fill=(20, 20, 20), font=f)
    for r, (pair, i) in enumerate(rows):
        src, dst = pair.split("_to_")
        name = "%06d.png" % i
        with open(os.path.join(a.sets, src, "faces.jsonl")) as fh:
            rec = json.loads(fh.readlines()[i])
        frame = Image.open(os.path.join(a.sets, src, rec["source"])).convert("RGB")
        box = face_box(rec, frame.width, frame.height)
        swaps = [Image.open(os.path.join(s, pair, name)).convert("RGB") for s in a.swaps]
        tiles = [frame] + swaps + [s.crop(box) for s in swaps]
        tiles.append(Image.open(os.path.join(a.swaps[-1], pair, "raw", name)).convert("RGB"))
        gt = os.path.join(a.sets, "ground-truth", "%s__%s" % (src, dst), name)
        tiles.append(Image.open(gt).convert("RGB") if os.path.exists(gt) else None)
        y = top + r * (T + pad)
        for c, im in enumerate(tiles):
            x = pad + c * (T + pad)
            if im is None:
                draw.rectangle((x, y, x + T - 1, y + T - 1), outline=(180, 180, 180))
                draw.text((x + 8, y + T // 2 - 8), "none (real photo)", fill=(120, 120, 120), font=font(11))
                continue
            sheet.paste(im.resize((T, T), Image.Resampling.LANCZOS), (x, y))
        draw.text((pad + 2, y + 2), "%s -> %s #%d" % (src[-4:], dst[-4:], i), fill=(255, 255, 0), font=font(10))
    sheet.save(a.out, optimize=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Synthetic licence plates for `make eval-plates`: US, EU and Brazilian plates on car-like scenes.

Deterministic by seed. Each item is a scene (a car body, its grille and bumper, a dealer frame's
text under the plate, a year sticker) with one plate drawn in its region's layout: US states with
the state name and a slogan (California, New York, Washington, Texas, Florida), EU national plates
with the blue band (Ukraine, France, Italy, Spain, Poland, the Netherlands), Brazil's old grey
plates and Mercosur's. Then one condition: clean, perspective, blur, noise, night, overexposed or
small. The ground truth is the registration it drew and the plate's box in the image.

Usage: synth_plates.py --seed 1 --count 210 --out target/eval/synth/plates
"""

import argparse
import csv
import os
import random
import string
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth_documents import background, font, from_np, perspective_coeffs, to_np  # noqa: E402

BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
CONDITIONS = ["clean", "perspective", "blur", "noise", "night", "overexposed", "small"]
REGIONS = ["US", "EU", "BR"]
# Letters a region's serials use (Brazil and the US avoid none; I, O and Q are rare on EU plates).
LETTERS = string.ascii_uppercase

# (name, pattern, top text, bottom text, ink, paper)
US = [("California", "9AAA999", "California", "DMV.CA.GOV", (20, 30, 120), (245, 245, 240)),
      ("New York", "AAA9999", "NEW YORK", "EMPIRE STATE", (20, 20, 20), (240, 220, 120)),
      ("Washington", "AAA9999", "Washington", "EVERGREEN STATE", (30, 30, 110), (240, 240, 245)),
      ("Texas", "AAA9999", "TEXAS", "THE LONE STAR STATE", (20, 20, 20), (240, 240, 235)),
      ("Florida", "AAA9AA", "MYFLORIDA.COM", "SUNSHINE STATE", (20, 90, 40), (250, 250, 245))]
# (country band, pattern, paper)
EU = [("UA", "AA9999AA", (245, 245, 245)), ("F", "AA999AA", (245, 245, 245)), ("I", "AA999AA", (245, 245, 245)),
      ("E", "9999AAA", (245, 245, 245)), ("PL", "AA99999", (245, 245, 245)), ("NL", "99AAA9", (245, 200, 40))]
BR = [("old", "AAA9999"), ("mercosur", "AAA9A99")]
DEALERS = ["CITY MOTORS", "AUTO PARK", "BEST CARS", "RIVERSIDE FORD", "METRO TOYOTA"]


def serial(rng, pattern):
    return "".join(rng.choice(LETTERS) if p == "A" else str(rng.randint(0, 9)) for p in pattern)


def fit_text(draw_img, text, box, face, colour, squeeze=0.78):
    """`text` in `face`, squeezed horizontally like a plate font, centred in `box` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    size = int((y1 - y0) * 1.25)
    f = font(face, size)
    l, t, r, b = f.getbbox(text)
    tile = Image.new("L", (r - l + 4, b - t + 4), 0)
    ImageDraw.Draw(tile).text((2 - l, 2 - t), text, font=f, fill=255)
    w = min(int(tile.width * squeeze * (y1 - y0) / tile.height), x1 - x0)
    tile = tile.resize((max(1, w), y1 - y0), Image.LANCZOS)
    ink = Image.new("RGB", tile.size, colour)
    draw_img.paste(ink, (x0 + (x1 - x0 - tile.width) // 2, y0), tile)


def us_plate(rng):
    state, pattern, top, bottom, ink, paper = rng.choice(US)
    text = serial(rng, pattern)
    w, h = 600, 300
    img = Image.new("RGB", (w, h), paper)
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((4, 4, w - 5, h - 5), 24, outline=(60, 60, 60), width=6)
    fit_text(img, top, (60, 22, w - 60, 72), BOLD if top.isupper() else SANS, (170, 20, 20), 0.9)
    fit_text(img, text, (40, 92, w - 40, 232), BOLD, ink)
    fit_text(img, bottom, (110, 245, w - 110, 280), SANS, (60, 60, 60), 0.9)
    return img, text, state


def eu_plate(rng):
    band, pattern, paper = rng.choice(EU)
    text = serial(rng, pattern)
    w, h = 620, 136
    img = Image.new("RGB", (w, h), paper)
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, 70, h), fill=(20, 50, 160))
    for k in range(12):  # the ring of stars
        a = 2 * np.pi * k / 12
        cx, cy = 35 + 18 * np.cos(a), 42 + 18 * np.sin(a)
        d.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=(250, 210, 0))
    fit_text(img, band, (12, 82, 58, 122), BOLD, (250, 250, 250), 1.0)
    d.rectangle((2, 2, w - 3, h - 3), outline=(30, 30, 30), width=4)
    spaced = text[:2] + " " + text[2:-2] + " " + text[-2:] if band in ("UA", "F", "I") else text
    fit_text(img, spaced, (84, 18, w - 16, 118), BOLD, (15, 15, 15), 0.72)
    return img, text, band


def br_plate(rng):
    kind, pattern = rng.choice(BR)
    text = serial(rng, pattern)
    w, h = 520, 170
    if kind == "old":
        img = Image.new("RGB", (w, h), (190, 190, 190))
        d = ImageDraw.Draw(img)
        d.rectangle((3, 3, w - 4, h - 4), outline=(30, 30, 30), width=5)
        fit_text(img, "SP - SAO PAULO", (120, 12, w - 120, 40), SANS, (30, 30, 30), 0.9)
        fit_text(img, text[:3] + "-" + text[3:], (24, 50, w - 24, 156), BOLD, (25, 25, 25), 0.72)
    else:
        img = Image.new("RGB", (w, h), (248, 248, 248))
        d = ImageDraw.Draw(img)
        d.rectangle((0, 0, w, 40), fill=(20, 60, 170))
        fit_text(img, "BRASIL", (190, 8, w - 190, 34), BOLD, (250, 250, 250), 1.0)
        d.rectangle((3, 3, w - 4, h - 4), outline=(30, 30, 30), width=5)
        fit_text(img, text, (24, 54, w - 24, 156), BOLD, (15, 15, 15), 0.72)
    return img, text, kind


def scene(rng, plate):
    """A car-like scene with `plate` on its bumper; returns the image and the plate's box."""
    sw, sh = rng.randint(1000, 1280), rng.randint(720, 960)
    img = background(rng, sw, sh)
    d = ImageDraw.Draw(img)
    body = tuple(rng.randint(20, 230) for _ in range(3))
    bx0, by0 = rng.randint(40, 160), rng.randint(120, 260)
    bx1, by1 = sw - rng.randint(40, 160), sh - rng.randint(60, 140)
    d.rounded_rectangle((bx0, by0, bx1, by1), 60, fill=body)
    d.rectangle((bx0 + 80, by0 + 40, bx1 - 80, by0 + (by1 - by0) // 3), fill=(40, 50, 60))  # windscreen
    target_w = int((bx1 - bx0) * rng.uniform(0.22, 0.32))
    p = plate.resize((target_w, int(plate.height * target_w / plate.width)), Image.LANCZOS)
    px = (bx0 + bx1 - p.width) // 2 + rng.randint(-40, 40)
    py = by1 - p.height - rng.randint(40, 90)
    d.rectangle((px - 30, py - 50, px + p.width + 30, py - 12), fill=(30, 30, 30))  # grille
    img.paste(p, (px, py))
    dealer = rng.choice(DEALERS)
    fit_text(img, dealer, (px + p.width // 6, py + p.height + 4, px + 5 * p.width // 6, py + p.height + 4
                           + max(8, p.height // 7)), SANS, (220, 220, 220), 0.9)
    sticker = str(rng.randint(2019, 2027))
    sx = bx0 + rng.randint(100, 300)
    fit_text(img, sticker, (sx, by0 + 60, sx + 60, by0 + 80), BOLD, (240, 240, 240), 1.0)
    return img, (px, py, px + p.width, py + p.height)


def perspective(rng, img, box):
    w, h = img.size
    j = lambda: rng.uniform(0.0, 0.16)
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [(j() * w, j() * h), (w - j() * w, j() * h), (w - j() * w, h - j() * h), (j() * w, h - j() * h)]
    out = img.transform((w, h), Image.PERSPECTIVE, perspective_coeffs(src, dst), Image.BICUBIC,
                        fillcolor=(90, 90, 90))
    a, b, c, d_, e, f, g, hh = perspective_coeffs(dst, src)  # input -> output
    pts = [(box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3])]
    mapped = [((a * x + b * y + c) / (g * x + hh * y + 1), (d_ * x + e * y + f) / (g * x + hh * y + 1)) for x, y in pts]
    xs, ys = [p[0] for p in mapped], [p[1] for p in mapped]
    return out, (min(xs), min(ys), max(xs), max(ys))


def apply(rng, cond, img, box):
    npr = np.random.default_rng(rng.randint(0, 2**31))
    if cond == "perspective":
        return perspective(rng, img, box)
    if cond == "blur":
        return img.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 2.2))), box
    if cond == "noise":
        return from_np(to_np(img) + npr.normal(0, rng.uniform(10, 22), (img.height, img.width, 1))), box
    if cond == "night":
        a = to_np(img) * rng.uniform(0.18, 0.32) + npr.normal(0, 4, (img.height, img.width, 1))
        return from_np(a), box
    if cond == "overexposed":
        return from_np(to_np(img) * rng.uniform(1.5, 1.9) + 40), box
    if cond == "small":
        s = rng.uniform(0.45, 0.6)
        out = img.resize((int(img.width * s), int(img.height * s)), Image.LANCZOS)
        return out, tuple(v * s for v in box)
    return img, box


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=210)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)
    rows = []
    for i in range(args.count):
        rng = random.Random(args.seed * 1_000_003 + i)
        region = REGIONS[i % len(REGIONS)]
        cond = CONDITIONS[(i // len(REGIONS)) % len(CONDITIONS)]
        plate, text, layout = {"US": us_plate, "EU": eu_plate, "BR": br_plate}[region](rng)
        img, box = scene(rng, plate)
        img, box = apply(rng, cond, img, box)
        name = "%04d.jpg" % i
        img.save(os.path.join(args.out, "images", name), quality=rng.randint(70, 92))
        x0, y0, x1, y1 = box
        rows.append({"file": name, "region": region, "plate": text, "all_plates": text,
                     "all_boxes": "%d %d %d %d" % (x0, y0, x1 - x0, y1 - y0), "condition": cond,
                     "layout": layout})
    with open(os.path.join(args.out, "ground_truth.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    print("wrote %d plates to %s" % (len(rows), args.out))


if __name__ == "__main__":
    main()

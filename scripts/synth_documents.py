#!/usr/bin/env python3
"""Synthetic ICAO 9303 documents for the accuracy harness (`make eval-documents`) and the
documents regression test. Deterministic by seed.

Usage: synth_documents.py --seed 1 --count 500 --out target/eval/synth/documents

Writes OUT/images/NNNN.{png,jpg} and OUT/ground_truth.csv with the columns of
../shared/devsets/mrz (file,format,line1,line2,line3,gt_valid) plus `condition` and `source`.
Every document has random valid data (names with fillers, optional data empty or not, empty
optional fields with a `<` check digit, nationality codes with fillers such as `D<<`), drawn in
OCR-B (Debian package fonts-ocr-b) on a page with a portrait box and distracting text, then one
condition: upright, rot90, rot180, rot270, skew (5-25 degrees), perspective, small (the MRZ
15-35 % of a phone-sized image), crop (the MRZ band nearly the whole width), blur, noise, jpeg
(quality 30-90), low_contrast, uneven_light, glare. The ground truth is the MRZ it drew.
"""
import argparse
import csv
import io
import math
import os
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

OCRB = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SANS_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

FORMATS = ["td1", "td2", "td3", "mrv_a", "mrv_b"]
CONDITIONS = ["upright", "rot90", "rot180", "rot270", "skew", "perspective", "small", "crop",
              "blur", "noise", "jpeg", "low_contrast", "uneven_light", "glare"]
# (page width mm, page height mm, characters per line, lines)
GEOMETRY = {"td1": (85.6, 54.0, 30, 3), "td2": (105.0, 74.0, 36, 2), "td3": (125.0, 88.0, 44, 2),
            "mrv_a": (120.0, 80.0, 44, 2), "mrv_b": (105.0, 74.0, 36, 2)}
STATES = ["UTO", "D<<", "GBR", "FRA", "NLD", "USA", "CAN", "ESP", "ITA", "POL", "SWE", "BRA", "IND",
          "CHN", "JPN", "AUS", "CHE", "AUT", "BEL", "PRT", "IRL", "NOR", "FIN", "DNK", "MEX", "ARG",
          "XXA", "XXB", "XXX", "EUE", "UNO", "ZAF", "KOR", "TUR", "UKR", "LVA", "EST", "LTU"]
SYL = ["AN", "BER", "CA", "DE", "EL", "FO", "GA", "HA", "IN", "JO", "KA", "LI", "MA", "NO", "OS",
       "PE", "QU", "RI", "SA", "TO", "UR", "VA", "WE", "XI", "YA", "ZO", "SCH", "MAR", "TIN", "SON",
       "LEE", "KOW", "SKI", "ROS", "SEN", "OVA", "NKO"]
W = (7, 3, 1)


def val(c):
    if c.isdigit():
        return int(c)
    if c == "<":
        return 0
    return ord(c) - 55


def cd(field):
    return str(sum(val(c) * W[i % 3] for i, c in enumerate(field)) % 10)


def field_cd(rng, field):
    """The check digit of `field`; an all-filler field gets `<` or `0` (ICAO 9303 allows both)."""
    if set(field) <= {"<"}:
        return rng.choice(["<", "0"])
    return cd(field)


def pad(s, n):
    return (s + "<" * n)[:n]


def word(rng, lo=2, hi=4):
    return "".join(rng.choice(SYL) for _ in range(rng.randint(lo, hi)))[:14]


def name_field(rng, n):
    surname = "<".join(word(rng) for _ in range(rng.choice([1, 1, 1, 2])))
    if rng.random() < 0.15:
        surname = rng.choice(["DE", "VAN", "DA", "EL"]) + "<" + surname
    given = "<".join(word(rng, 1, 3) for _ in range(rng.choice([0, 1, 1, 2, 3])))
    s = surname + ("<<" + given if given else "")
    return pad(s, n)


def alnum(rng, n, letters=0.3):
    return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") if rng.random() < letters else rng.choice("0123456789")
                   for _ in range(n))


def date(rng, y0, y1):
    y = rng.randint(y0, y1)
    return "%02d%02d%02d" % (y % 100, rng.randint(1, 12), rng.randint(1, 28))


def optional(rng, n):
    if rng.random() < 0.5:
        return "<" * n
    k = rng.randint(1, n)
    return pad(alnum(rng, k, 0.2), n)


def docnum(rng):
    s = alnum(rng, 9, 0.35)
    return s[:8] + "<" if rng.random() < 0.15 else s


def mrz(rng, fmt):
    """Random valid MRZ lines of `fmt`."""
    state, nat = rng.choice(STATES), rng.choice(STATES)
    num, birth, expiry = docnum(rng), date(rng, 1940, 2008), date(rng, 2018, 2036)
    sex = rng.choice("MMFF<")
    if fmt == "td1":
        code = rng.choice(["I<", "ID", "IR", "AC", "IP"])
        opt1, opt2 = optional(rng, 15), optional(rng, 11)
        l1 = code + state + num + cd(num) + opt1
        l2 = birth + cd(birth) + sex + expiry + cd(expiry) + nat + opt2
        comp = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
        l2 += cd(comp)
        return [l1, l2, name_field(rng, 30)]
    n = GEOMETRY[fmt][2]
    code = {"td2": rng.choice(["I<", "ID", "IR", "AC"]), "td3": rng.choice(["P<", "PD", "PO", "PS"]),
            "mrv_a": "V<", "mrv_b": "V<"}[fmt]
    l1 = code + state + name_field(rng, n - 5)
    l2 = num + cd(num) + nat + birth + cd(birth) + sex + expiry + cd(expiry)
    if fmt == "td3":
        personal = optional(rng, 14)
        l2 += personal + field_cd(rng, personal)
        l2 += cd(l2[0:10] + l2[13:20] + l2[21:43])
    elif fmt == "td2":
        l2 += optional(rng, 7)
        l2 += cd(l2[0:10] + l2[13:20] + l2[21:35])
    else:
        l2 += optional(rng, n - 28)
    return [l1, l2]


def font(path, size):
    return ImageFont.truetype(path, max(6, int(size)))


def render_page(rng, fmt, lines, pitch):
    """The document page with its MRZ; `pitch` is the MRZ character pitch in pixels (2.54 mm)."""
    wmm, hmm, n, rows = GEOMETRY[fmt]
    s = pitch / 2.54
    w, h = int(wmm * s), int(hmm * s)
    base = tuple(rng.randint(200, 250) for _ in range(3))
    page = Image.new("RGB", (w, h), base)
    d = ImageDraw.Draw(page)
    # a faint guilloche-like background
    for k in range(rng.randint(4, 10)):
        col = tuple(max(0, c - rng.randint(10, 40)) for c in base)
        a, f, ph = rng.uniform(0.03, 0.12) * h, rng.uniform(1, 4), rng.uniform(0, 6.3)
        y0 = rng.uniform(0.1, 0.6) * h
        pts = [(x, y0 + a * math.sin(f * 2 * math.pi * x / w + ph)) for x in range(0, w, 4)]
        d.line(pts, fill=col, width=max(1, int(s * 0.2)))
    title = {"td1": "IDENTITY CARD", "td2": "IDENTITY CARD", "td3": "PASSPORT", "mrv_a": "VISA",
             "mrv_b": "VISA"}[fmt]
    d.text((0.05 * w, 0.03 * h), title + " / " + rng.choice(["PASSEPORT", "REISEPASS", "CARTE", "KAART"]),
           font=font(SANS_BOLD, 4.0 * s), fill=(40, 40, 90))
    # portrait box
    px0, py0, pw = 0.04 * w, 0.16 * h, 0.28 * w
    ph = min(0.48 * h, h - 2.8 * s - rows * 4.23 * s - 1.5 * s - py0)
    d.rectangle([px0, py0, px0 + pw, py0 + ph], fill=(170, 170, 175), outline=(90, 90, 90))
    d.ellipse([px0 + 0.25 * pw, py0 + 0.12 * ph, px0 + 0.75 * pw, py0 + 0.62 * ph], fill=(120, 110, 105))
    d.ellipse([px0 + 0.1 * pw, py0 + 0.62 * ph, px0 + 0.9 * pw, py0 + 1.25 * ph], fill=(80, 80, 90))
    # labelled fields (distracting text, some of it MRZ-like)
    x, y = 0.36 * w, 0.16 * h
    small, value = font(SANS, 2.0 * s), font(rng.choice([SANS, OCRB]), 3.0 * s)
    mrz_top = h - 2.8 * s - rows * 4.23 * s
    for label in ["Surname / Nom", "Given names / Prenoms", "Nationality", "Date of birth", "Sex",
                  "Date of expiry", "Document no"]:
        if y + 6.2 * s > mrz_top - 1.5 * s:
            break
        d.text((x, y), label, font=small, fill=(90, 90, 110))
        d.text((x, y + 2.2 * s), rng.choice([word(rng), alnum(rng, 9), "%02d %s %d" % (
            rng.randint(1, 28), rng.choice(["JAN", "FEB", "MAR", "SEP"]), rng.randint(1950, 2030))]),
            font=value, fill=(20, 20, 20))
        y += 6.2 * s
    # the MRZ: OCR-B at the ICAO pitch, bottom of the page
    f = font(OCRB, 10)
    adv = f.getlength("A") / 10.0
    f = font(OCRB, pitch / adv)
    line_pitch = 4.23 * s
    x0 = (w - n * pitch) / 2
    y0 = h - 2.8 * s - rows * line_pitch
    ink = tuple(rng.randint(0, 50) for _ in range(3))
    for r, line in enumerate(lines):
        for i, c in enumerate(line):
            d.text((x0 + i * pitch, y0 + r * line_pitch), c, font=f, fill=ink)
    mrz_box = (x0, y0, x0 + n * pitch, y0 + rows * line_pitch)
    return page, mrz_box


def background(rng, w, h):
    base = np.array([rng.randint(60, 200) for _ in range(3)], np.float32)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 12, (h // 8 + 1, w // 8 + 1, 1))
    img = np.clip(base + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(img).resize((w, h), Image.BILINEAR)


def place(rng, page, margin):
    w, h = page.size
    cw, ch = int(w * (1 + 2 * margin)), int(h * (1 + 2 * margin))
    canvas = background(rng, cw, ch)
    canvas.paste(page, ((cw - w) // 2, (ch - h) // 2))
    return canvas


def perspective_coeffs(src, dst):
    """Coefficients for PIL's PERSPECTIVE transform mapping output points `dst` to input `src`."""
    a = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    b = [c for p in src for c in p]
    return np.linalg.solve(np.array(a, np.float64), np.array(b, np.float64)).tolist()


def photographed_at_an_angle(rng, img, jitter):
    """`img` as a camera at an angle sees it: each corner moved inwards by up to `jitter` of the side."""
    w, h = img.size
    j = lambda: rng.uniform(0.0, jitter)
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [(j() * w, j() * h), (w - j() * w, j() * h), (w - j() * w, h - j() * h), (j() * w, h - j() * h)]
    return img.transform((w, h), Image.PERSPECTIVE, perspective_coeffs(src, dst), Image.BICUBIC,
                         fillcolor=(90, 90, 90))


def to_np(img):
    return np.asarray(img, dtype=np.float32)


def from_np(a):
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def apply(rng, cond, page, fmt, mrz_box):
    npr = np.random.default_rng(rng.randint(0, 2**31))
    if cond == "crop":
        x0, y0, x1, y1 = mrz_box
        pad_x, pad_y = rng.uniform(0.0, 0.08) * (x1 - x0), rng.uniform(0.3, 1.5) * (y1 - y0) / 3
        return page.crop((max(0, int(x0 - pad_x)), max(0, int(y0 - pad_y)), min(page.width, int(x1 + pad_x)),
                          min(page.height, int(y1 + pad_y))))
    if cond == "small":
        frac = rng.uniform(0.15, 0.35)
        mrz_w = mrz_box[2] - mrz_box[0]
        cw = int(mrz_w / frac)
        ch = int(cw * rng.uniform(0.7, 1.35))
        canvas = background(rng, cw, max(ch, page.height + 10))
        canvas.paste(page, (rng.randint(0, cw - page.width), rng.randint(0, canvas.height - page.height)))
        return canvas
    img = place(rng, page, rng.uniform(0.05, 0.2))
    if cond in ("rot90", "rot180", "rot270"):
        return img.transpose({"rot90": Image.ROTATE_90, "rot180": Image.ROTATE_180,
                              "rot270": Image.ROTATE_270}[cond])
    if cond == "skew":
        angle = rng.uniform(5, 25) * rng.choice([-1, 1])
        return place(rng, page, 0.3).rotate(angle, resample=Image.BICUBIC, expand=False,
                                            fillcolor=(128, 128, 128))
    if cond == "perspective":
        return photographed_at_an_angle(rng, place(rng, page, 0.2), 0.12)
    if cond == "blur":
        return img.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 2.0) * img.width / 1400))
    if cond == "noise":
        return from_np(to_np(img) + npr.normal(0, rng.uniform(8, 22), (img.height, img.width, 1)))
    if cond == "low_contrast":
        lo, hi = rng.uniform(70, 110), rng.uniform(150, 190)
        return from_np(lo + to_np(img) * (hi - lo) / 255.0)
    if cond == "uneven_light":
        h, w = img.height, img.width
        ang = rng.uniform(0, 2 * math.pi)
        xs, ys = np.meshgrid(np.linspace(-1, 1, w), np.linspace(-1, 1, h))
        g = (xs * math.cos(ang) + ys * math.sin(ang)) / math.sqrt(2)
        light = rng.uniform(0.35, 0.55) + (1 - rng.uniform(0.35, 0.55)) * (g + 1) / 2
        return from_np(to_np(img) * light[..., None])
    if cond == "glare":
        h, w = img.height, img.width
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        rx, ry = rng.uniform(0.08, 0.2) * w, rng.uniform(0.08, 0.2) * h
        xs, ys = np.meshgrid(np.arange(w), np.arange(h))
        m = np.exp(-(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2))
        a = to_np(img)
        return from_np(a + (255 - a) * (rng.uniform(0.5, 0.8) * m)[..., None])
    return img


def save(img, path, cond, rng):
    if cond == "jpeg":
        img.save(path + ".jpg", quality=rng.randint(30, 90))
        return path + ".jpg"
    if rng.random() < 0.5:
        img.save(path + ".jpg", quality=rng.randint(85, 95))
        return path + ".jpg"
    img.save(path + ".png")
    return path + ".png"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--out", required=True)
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    args = ap.parse_args()
    conds = args.conditions.split(",")
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)
    rows = []
    for i in range(args.count):
        rng = random.Random(args.seed * 1_000_003 + i)
        fmt, cond = FORMATS[i % len(FORMATS)], conds[(i // len(FORMATS)) % len(conds)]
        lines = mrz(rng, fmt)
        pitch = rng.uniform(8.0, 12.0) if cond == "small" else rng.uniform(12.0, 22.0)
        page, box = render_page(rng, fmt, lines, pitch)
        img = apply(rng, cond, page, fmt, box)
        path = save(img, os.path.join(args.out, "images", "%04d" % i), cond, rng)
        rows.append({"file": os.path.basename(path), "format": fmt, "line1": lines[0], "line2": lines[1],
                     "line3": lines[2] if len(lines) > 2 else "", "gt_valid": 1, "condition": cond,
                     "source": "synthetic seed %d" % args.seed})
    with open(os.path.join(args.out, "ground_truth.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        wr.writeheader()
        wr.writerows(rows)
    print("synth_documents: %d documents (seed %d) in %s" % (len(rows), args.seed, args.out))


if __name__ == "__main__":
    main()

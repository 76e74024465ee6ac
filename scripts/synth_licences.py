#!/usr/bin/env python3
"""Synthetic US and Canadian driver licence / ID card backs with an AAMVA PDF417 barcode, for the
barcode reader's accuracy figures (`make eval-licences`) and tests. Deterministic by seed.

Usage: synth_licences.py --seed 1 --count 264 --out target/eval/synth/licences
       synth_licences.py --payload FILE --image OUT.png   (one upright card back with FILE's text)

Each image: a random AAMVA DL/ID payload (versions 1 to 10; US states and Canadian provinces with
their IINs; DL or ID subfile, sometimes a jurisdiction Z subfile; dates MMDDCCYY in the US and
CCYYMMDD in Canada and in version 1; names with DAC/DAD or, in versions 2 and 3, DCT), encoded as
PDF417 by zxing-cpp (PyPI `zxing-cpp`, Apache-2.0), drawn on a card back with some text, then one
condition: upright, rot90, rot180, rot270, tilt (5-30 degrees), perspective, blur, jpeg
(quality 35-85), noise, small (the barcode 35-55 % of the image width), low_contrast.
Writes OUT/images/NNNN.{png,jpg} and OUT/ground_truth.jsonl: per image the file, condition,
payload and the fields the reader must give (ISO dates).
"""
import argparse
import json
import math
import os
import random
import sys

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth_documents import (  # noqa: E402
    SANS, SANS_BOLD, background, font, from_np, photographed_at_an_angle, to_np,
)

# (IIN, jurisdiction code, country): a spread of the AAMVA IIN table.
JURISDICTIONS = [("636014", "CA", "USA"), ("636015", "TX", "USA"), ("636001", "NY", "USA"),
                 ("636010", "FL", "USA"), ("636035", "IL", "USA"), ("636025", "PA", "USA"),
                 ("636023", "OH", "USA"), ("636055", "GA", "USA"), ("636045", "WA", "USA"),
                 ("636026", "AZ", "USA"), ("636020", "CO", "USA"), ("636043", "DC", "USA"),
                 ("636012", "ON", "CAN"), ("636028", "BC", "CAN"), ("604428", "QC", "CAN"),
                 ("604432", "AB", "CAN"), ("636048", "MB", "CAN"), ("636013", "NS", "CAN")]
VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
CONDITIONS = ["upright", "rot90", "rot180", "rot270", "tilt", "perspective", "blur", "jpeg", "noise",
              "small", "low_contrast"]
FAMILY = ["SMITH", "JOHNSON", "WILLIAMS", "BROWN", "GARCIA", "MILLER", "DAVIS", "RODRIGUEZ", "MARTINEZ",
          "TREMBLAY", "GAGNON", "ROY", "NGUYEN", "O'BRIEN", "VAN DYKE", "DE LA CRUZ", "LEE", "PATEL", "KOWALSKI"]
GIVEN = ["JAMES", "MARY", "ROBERT", "PATRICIA", "JOHN", "JENNIFER", "MICHAEL", "LINDA", "DAVID", "ELIZABETH",
         "MARIE", "JEAN", "WEI", "PRIYA", "ANA", "LUC", "SOPHIE", "JOSE", "ANNE"]
STREETS = ["MAIN ST", "OAK AVE", "MAPLE DR", "2ND ST", "PARK BLVD", "RUE PRINCIPALE", "ELM CT"]
CITIES = ["SPRINGFIELD", "RIVERSIDE", "FAIRVIEW", "FRANKLIN", "GREENVILLE", "MONTREAL", "TORONTO"]


def ymd(rng, y0, y1):
    return rng.randint(y0, y1), rng.randint(1, 12), rng.randint(1, 28)


def fmt_date(d, country, version):
    y, m, dd = d
    if version == 1 or country == "CAN":
        return "%04d%02d%02d" % (y, m, dd)
    return "%02d%02d%04d" % (m, dd, y)


def iso(d):
    return "%04d-%02d-%02d" % d


def payload(rng):
    """A random AAMVA payload and what a reader must read from it."""
    iin, code, country = rng.choice(JURISDICTIONS)
    version = rng.choice(VERSIONS)
    kind = rng.choice(["DL", "DL", "DL", "ID"])
    family, given, middle = rng.choice(FAMILY), rng.choice(GIVEN), rng.choice(GIVEN + ["", ""])
    birth = ymd(rng, 1940, 2012)  # some holders are under 18
    issue = ymd(rng, 2014, 2025)
    expiry = (issue[0] + rng.choice([4, 5, 8]) + rng.choice([0, 0, 1]) * rng.randint(1, 3), issue[1], issue[2])
    if rng.random() < 0.25:
        expiry = (rng.randint(2016, 2025), expiry[1], expiry[2])  # expired
    number = "".join(rng.choice("0123456789") for _ in range(rng.randint(7, 9)))
    if rng.random() < 0.5:
        number = rng.choice("ABCDEFGHJKLMNPRSTWXYZ") + number
    sex = rng.choice(["1", "2", "9"]) if version > 1 else rng.choice(["M", "F"])
    d = lambda x: fmt_date(x, country, version)
    el = [("DAQ", number)]
    if version == 1:
        el += [("DAA", f"{family},{given}" + (f",{middle}" if middle else ""))]
    elif version in (2, 3):
        el += [("DCS", family), ("DCT", given + (f",{middle}" if middle else ""))]
    else:
        el += [("DCS", family), ("DAC", given), ("DAD", middle or "NONE")]
    if kind == "DL":
        el += [("DCA" if version > 1 else "DAR", rng.choice(["C", "D", "G", "5"])),
               ("DCB" if version > 1 else "DAS", rng.choice(["NONE", "B", "A"])),
               ("DCD" if version > 1 else "DAT", rng.choice(["NONE", "M"]))]
    el += [("DBD", d(issue)), ("DBB", d(birth)), ("DBA", d(expiry)), ("DBC", sex)]
    if version > 1:
        el += [("DAY", rng.choice(["BRO", "BLU", "GRN", "HAZ"])),
               ("DAU", "%03d %s" % (rng.randint(150, 195), "CM") if country == "CAN" else "0%02d IN" % rng.randint(58, 76))]
    el += [("DAG", "%d %s" % (rng.randint(1, 9999), rng.choice(STREETS))), ("DAI", rng.choice(CITIES)),
           ("DAJ", code), ("DAK", ("%05d0000  " % rng.randint(10000, 99999)) if country == "USA"
                            else rng.choice(["H2X1Y4", "M5V3L9", "T2P1J9"]) + "   ")]
    if version > 1:
        el += [("DCF", "".join(rng.choice("0123456789ABCDEF") for _ in range(12))), ("DCG", country)]
    if version >= 4:
        el += [("DDE", "N"), ("DDF", "N"), ("DDG", "N")]
    if version >= 8 and rng.random() < 0.5:
        el += [("DDA", rng.choice(["F", "N"])), ("DDB", d((2020, 1, 15)))]
    if version >= 9 and rng.random() < 0.3:
        el += [("DDK", "1")]
    # Subfiles: the DL/ID one, sometimes the jurisdiction's Z subfile.
    main = kind + "\n".join(k + v for k, v in el) + "\r"
    subfiles = [(kind, main)]
    if rng.random() < 0.5:
        z = "Z" + code[0]
        subfiles.append((z, z + "\n".join([z + "A" + rng.choice(["BLUE", "01", "Y"]), z + "B" + str(rng.randint(0, 99))]) + "\r"))
    header = "@\n\x1e\rANSI " + iin + "%02d" % version + ("%02d" % rng.randint(0, 3) if version > 1 else "")
    header += "%02d" % len(subfiles)
    offset = len(header) + 10 * len(subfiles)
    designators, body = "", ""
    for t, s in subfiles:
        designators += "%s%04d%04d" % (t, offset + len(body), len(s))
        body += s
    text = header + designators + body
    given_names = " ".join(x for x in (given, middle) if x)
    truth = {"version": version, "iin": iin, "jurisdiction_code": code, "country": country,
             "document_type": "driver_license" if kind == "DL" else "id_card", "document_number": number,
             "family_name": family, "given_names": given_names, "birth_date": iso(birth), "expiry_date": iso(expiry),
             "issue_date": iso(issue), "sex": {"1": "M", "2": "F", "9": "X", "M": "M", "F": "F"}[sex]}
    return text, truth


def render_back(rng, text, module):
    """A card back (85.6 x 54 mm) with the barcode `text` at `module` pixels per module."""
    bc = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.PDF417, ec_level=str(rng.choice([3, 4, 5])))
    code = np.array(zxingcpp.write_barcode_to_image(bc, scale=1))  # one pixel per module, quiet zone included
    bh, bw = code.shape
    sym = Image.fromarray(code).resize((bw * module, int(bh * module * rng.uniform(1.0, 1.3))), Image.NEAREST)
    w = int(sym.width / rng.uniform(0.8, 0.92))
    h = int(w * 54 / 85.6)
    h = max(h, sym.height + int(0.3 * w * 54 / 85.6))
    base = tuple(rng.randint(215, 250) for _ in range(3))
    card = Image.new("RGB", (w, h), base)
    d = ImageDraw.Draw(card)
    for _ in range(rng.randint(3, 7)):
        col = tuple(max(0, c - rng.randint(8, 30)) for c in base)
        y0, a, f = rng.uniform(0.05, 0.3) * h, rng.uniform(0.02, 0.06) * h, rng.uniform(1, 3)
        d.line([(x, y0 + a * math.sin(f * 2 * math.pi * x / w)) for x in range(0, w, 4)], fill=col, width=2)
    d.text((0.05 * w, 0.04 * h), rng.choice(["DRIVER LICENSE", "IDENTIFICATION CARD", "PERMIS DE CONDUIRE"]),
           font=font(SANS_BOLD, 0.045 * h), fill=(30, 30, 80))
    d.text((0.05 * w, 0.12 * h), "This card is the property of the issuing jurisdiction.",
           font=font(SANS, 0.03 * h), fill=(60, 60, 60))
    card.paste(sym.convert("RGB"), ((w - sym.width) // 2, h - sym.height - int(0.04 * h)))
    return card


def on_background(rng, card, margin):
    w, h = card.size
    cw, ch = int(w * (1 + 2 * margin)), int(h * (1 + 2 * margin))
    canvas = background(rng, cw, ch)
    canvas.paste(card, ((cw - w) // 2, (ch - h) // 2))
    return canvas


def apply(rng, cond, card):
    npr = np.random.default_rng(rng.randint(0, 2**31))
    if cond == "small":
        frac = rng.uniform(0.35, 0.55)
        cw = int(card.width / frac)
        canvas = background(rng, cw, int(cw * rng.uniform(0.7, 1.3)) + card.height)
        canvas.paste(card, (rng.randint(0, cw - card.width), rng.randint(0, canvas.height - card.height)))
        return canvas
    img = on_background(rng, card, rng.uniform(0.05, 0.2))
    if cond in ("rot90", "rot180", "rot270"):
        return img.transpose({"rot90": Image.ROTATE_90, "rot180": Image.ROTATE_180, "rot270": Image.ROTATE_270}[cond])
    if cond == "tilt":
        return on_background(rng, card, 0.3).rotate(rng.uniform(5, 30) * rng.choice([-1, 1]), resample=Image.BICUBIC,
                                                    fillcolor=(120, 120, 120))
    if cond == "perspective":
        return photographed_at_an_angle(rng, on_background(rng, card, 0.2), 0.1)
    if cond == "blur":
        return img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0)))
    if cond == "noise":
        return from_np(to_np(img) + npr.normal(0, rng.uniform(6, 16), (img.height, img.width, 1)))
    if cond == "low_contrast":
        lo, hi = rng.uniform(60, 100), rng.uniform(160, 200)
        return from_np(lo + to_np(img) * (hi - lo) / 255.0)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=240)
    ap.add_argument("--out")
    ap.add_argument("--payload", help="a file with the barcode text to draw (with --image)")
    ap.add_argument("--image", help="where to write the one card back of --payload")
    args = ap.parse_args()
    if args.payload:
        with open(args.payload, newline="") as f:
            text = f.read()
        render_back(random.Random(args.seed), text, 4).save(args.image)
        return
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)
    with open(os.path.join(args.out, "ground_truth.jsonl"), "w") as gt:
        for i in range(args.count):
            rng = random.Random(args.seed * 1_000_003 + i)
            cond = CONDITIONS[i % len(CONDITIONS)]
            text, truth = payload(rng)
            module = rng.randint(2, 3) if cond == "small" else rng.randint(3, 5)
            img = apply(rng, cond, render_back(rng, text, module))
            name = "%04d" % i
            if cond == "jpeg" or rng.random() < 0.5:
                name += ".jpg"
                img.save(os.path.join(args.out, "images", name), quality=rng.randint(35, 85) if cond == "jpeg" else 92)
            else:
                name += ".png"
                img.save(os.path.join(args.out, "images", name))
            gt.write(json.dumps({"file": name, "condition": cond, "payload": text, **truth}) + "\n")
    print("synth_licences: %d licence backs (seed %d) in %s" % (args.count, args.seed, args.out))


if __name__ == "__main__":
    main()

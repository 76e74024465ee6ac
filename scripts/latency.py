#!/usr/bin/env python3
"""Per-route latency of a running verity (median and p95 of N sequential requests).

usage: latency.py [--url http://127.0.0.1:8080] [--runs 20] [--testdata ../shared/testdata]
"""
import argparse, base64, json, statistics, time, urllib.request
from pathlib import Path


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.status, json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--testdata", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "testdata"))
    a = ap.parse_args()
    img = lambda n: base64.b64encode((Path(a.testdata) / n).read_bytes()).decode()
    cases = [
        ("POST /v1/faces/detect", "/v1/faces/detect", {"image": img("obama.jpg")}, "obama.jpg"),
        ("POST /v1/faces/detect", "/v1/faces/detect", {"image": img("solvay_conference_1927.jpg")}, "solvay_conference_1927.jpg"),
        ("POST /v1/faces/verify", "/v1/faces/verify", {"source": img("obama.jpg"), "target": img("biden.jpg")}, "obama.jpg + biden.jpg"),
        ("POST /v1/faces/liveness", "/v1/faces/liveness", {"image": img("image_T1.jpg")}, "image_T1.jpg"),
    ]
    print(f"{'route':26s} {'image':30s} {'median ms':>10s} {'p95 ms':>8s}")
    for route, path, body, label in cases:
        post(a.url + path, body)  # first call outside the figures
        times = []
        for _ in range(a.runs):
            t = time.perf_counter()
            status, _ = post(a.url + path, body)
            times.append((time.perf_counter() - t) * 1e3)
            assert status == 200
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
        print(f"{route:26s} {label:30s} {statistics.median(times):10.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()

"""Sequential latency of every query route against a running musicprism server.

One client, one request at a time (the load test with concurrent clients is
benchmarks/api_load.py). Prints a Markdown table; ``--json`` writes the raw figures.

    python -m benchmarks.api_latency --url http://127.0.0.1:8000 --clip some.flac --n 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def tracks_after(url: str, offset: int) -> int:
    return int(json.loads(_get(f"{url}/tracks?limit=1&offset={offset}"))["tracks"][0]["id"])


def _post_form(url: str, fields: list[tuple[str, object]]) -> bytes:
    body = urllib.parse.urlencode([(k, str(v)) for k, v in fields]).encode()
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def _post_file(url: str, field: str, name: str, data: bytes, headers: dict[str, str],
               fields: dict[str, str] | None = None) -> bytes:
    boundary = uuid.uuid4().hex
    extra = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                    f"{v}\r\n" for k, v in (fields or {}).items())
    body = (
        extra + f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **headers},
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read()


def timed(fn: Callable[[], object], n: int) -> dict[str, float]:
    fn()  # warm-up
    ms = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return {
        "n": n,
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(0.95 * (n - 1))], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def run(url: str, clip: bytes, n: int) -> dict[str, dict[str, float]]:
    tracks = json.loads(_get(f"{url}/tracks?limit=1"))["tracks"]
    if not tracks:
        raise SystemExit("the catalogue is empty: ingest something first (musicprism demo)")
    tid = tracks[0]["id"]
    other, negative = tracks_after(url, 1), tracks_after(url, 2)
    q = urllib.parse.quote
    routes: dict[str, Callable[[], object]] = {
        "GET /healthz": lambda: _get(f"{url}/healthz"),
        "GET /tracks/{id}": lambda: _get(f"{url}/tracks/{tid}"),
        "GET /similar/{id}": lambda: _get(f"{url}/similar/{tid}?k=10"),
        "GET /similar/{id}?facet=mood": lambda: _get(f"{url}/similar/{tid}?k=10&facet=mood"),
        "GET /similar/{id}?facet=mood:0.7,genre:0.3": lambda: _get(
            f"{url}/similar/{tid}?k=10&facet={q('mood:0.7,genre:0.3')}"
        ),
        "GET /similar/{id}?facet=genre:1,mood:-1": lambda: _get(
            f"{url}/similar/{tid}?k=10&facet={q('genre:1,mood:-1')}"
        ),
        "GET /similar/{id}?year_min=1900&duration_max=600": lambda: _get(
            f"{url}/similar/{tid}?k=10&year_min=1900&duration_max=600"
        ),
        "GET /similar/{id}?regions=true": lambda: _get(f"{url}/similar/{tid}?k=10&regions=true"),
        "POST /similar/query (2 positive, 1 negative ids)": lambda: _post_form(
            f"{url}/similar/query", [("positive", tid), ("positive", other),
                                     ("negative", negative), ("k", 10)]),
        "GET /playlist (k=10)": lambda: _get(f"{url}/playlist?from={tid}&to={negative}&k=10"),
        "GET /playlist?facet=mood:2,genre:1&spacing=2 (k=10)": lambda: _get(
            f"{url}/playlist?from={tid}&to={negative}&k=10&facet={q('mood:2,genre:1')}"
            "&spacing=2"),
        "GET /playlist?year_min=1900&duration_max=600 (k=10)": lambda: _get(
            f"{url}/playlist?from={tid}&to={negative}&k=10&year_min=1900&duration_max=600"),
        "GET /playlist (k=50)": lambda: _get(f"{url}/playlist?from={tid}&to={negative}&k=50"),
        "GET /tracks/{id}/tags/timeline": lambda: _get(f"{url}/tracks/{tid}/tags/timeline"),
        "GET /tracks/{id}/vectors": lambda: _get(f"{url}/tracks/{tid}/vectors"),
        "GET /search?tag=jazz": lambda: _get(f"{url}/search?tag=jazz&k=10"),
        "GET /search?q=calm piano with strings, no vocals": lambda: _get(
            f"{url}/search?q={q('calm piano with strings, no vocals')}&k=10"),
        "POST /similar (clip)": lambda: _post_file(f"{url}/similar", "file", "q.flac", clip, {}),
        "POST /similar (clip, regions=true)": lambda: _post_file(
            f"{url}/similar", "file", "q.flac", clip, {}, {"regions": "true"}),
    }
    return {name: timed(fn, n) for name, fn in routes.items()}


def table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| route | p50 ms | p95 ms | mean ms | n |", "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| `{name}` | {r['p50_ms']} | {r['p95_ms']} | {r['mean_ms']} | {r['n']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--clip", type=Path, required=True, help="query audio for POST /similar")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    results = run(args.url.rstrip("/"), args.clip.read_bytes(), args.n)
    print(table(results))  # noqa: T201 - a benchmark prints its table
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""A closed-loop HTTP/1.1 load generator: C keep-alive connections, each sending its next
request as soon as the previous answer is read, bounded in request count and time.

It is asyncio over raw sockets (uvloop when installed) with requests serialised once, so the
client spends microseconds per request and is not the bottleneck of a Python server; its own
CPU time is reported so that can be checked. It runs in its own process:

    python -m benchmarks.loadgen < plan.json > result.json

plan: ``{"host", "port", "concurrency", "max_requests", "max_seconds", "warmup",
"requests": [{"method", "path", "body_b64"?, "content_type"?}, ...]}``; requests are sent
in turn (cycled). Result: see :func:`summarise`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import percentiles


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    content_type: str | None = None


def build_request(host: str, port: int, req: Request) -> bytes:
    """The HTTP/1.1 request bytes (keep-alive; Content-Length when there is a body)."""
    lines = [f"{req.method} {req.path} HTTP/1.1", f"Host: {host}:{port}", "Accept: */*"]
    if req.body or req.method in {"POST", "PUT"}:
        lines.append(f"Content-Length: {len(req.body)}")
    if req.content_type:
        lines.append(f"Content-Type: {req.content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body


def multipart(field_name: str, filename: str, data: bytes, boundary: str) -> tuple[bytes, str]:
    """A multipart/form-data body with one file field, and its Content-Type."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


class ProtocolError(RuntimeError):
    """A response this client cannot frame (no Content-Length, malformed status line)."""


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, content length, server closes) from a response head ending in CRLF CRLF."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" not in headers:
        raise ProtocolError("response without Content-Length")
    closes = headers.get("connection", "").lower() == "close"
    return int(parts[1]), int(headers["content-length"]), closes


@dataclass
class _Shared:
    max_requests: int
    deadline: float
    issued: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    def take(self) -> int | None:
        if self.issued >= self.max_requests or time.perf_counter() >= self.deadline:
            return None
        self.issued += 1
        return self.issued - 1


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port, limit=2**22)


async def _client(host: str, port: int, wire: list[bytes], shared: _Shared) -> None:
    reader, writer = await _connect(host, port)
    try:
        while (i := shared.take()) is not None:
            start = time.perf_counter()
            try:
                writer.write(wire[i % len(wire)])
                head = await reader.readuntil(b"\r\n\r\n")
                status, length, closes = parse_head(head)
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ProtocolError) as exc:
                shared.statuses[type(exc).__name__] += 1
                writer.close()
                reader, writer = await _connect(host, port)
                continue
            shared.latencies.append(time.perf_counter() - start)
            shared.statuses[str(status)] += 1
            if closes:
                writer.close()
                reader, writer = await _connect(host, port)
    finally:
        writer.close()


async def _run(host: str, port: int, wire: list[bytes], concurrency: int, max_requests: int,
               max_seconds: float) -> tuple[_Shared, float]:
    shared = _Shared(max_requests=max_requests, deadline=time.perf_counter() + max_seconds)
    start = time.perf_counter()
    await asyncio.gather(*(_client(host, port, wire, shared) for _ in range(concurrency)))
    return shared, time.perf_counter() - start


def summarise(latencies: list[float], statuses: dict[str, int], elapsed: float) -> dict[str, Any]:
    """Latency percentiles (ms) of successful answers, throughput and errors.

    Returns:
        ``{"requests", "ok", "errors", "statuses", "elapsed_s", "req_per_s", "p50_ms",
        "p95_ms", "p99_ms", "mean_ms", "max_ms"}``; an answer is ok when its status is 2xx;
        ``req_per_s`` counts ok answers; latencies are of every answered request.
    """
    total = sum(statuses.values())
    ok = sum(n for s, n in statuses.items() if s.isdigit() and 200 <= int(s) < 300)
    out: dict[str, Any] = {
        "requests": total,
        "ok": ok,
        "errors": total - ok,
        "statuses": dict(statuses),
        "elapsed_s": elapsed,
        "req_per_s": ok / elapsed if elapsed > 0 else 0.0,
    }
    if latencies:
        p50, p95, p99 = percentiles([s * 1e3 for s in latencies], [50, 95, 99])
        out.update(p50_ms=p50, p95_ms=p95, p99_ms=p99,
                   mean_ms=1e3 * sum(latencies) / len(latencies), max_ms=1e3 * max(latencies))
    return out


def _loop_factory() -> Any:
    """uvloop's event loop when installed (faster), else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """Warm up (``warmup`` requests, not counted), then run and summarise one load level."""
    host, port = plan["host"], int(plan["port"])
    reqs = [
        Request(r["method"], r["path"], base64.b64decode(r.get("body_b64", "")),
                r.get("content_type"))
        for r in plan["requests"]
    ]
    wire = [build_request(host, port, r) for r in reqs]
    conc = int(plan["concurrency"])
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        if plan.get("warmup"):
            runner.run(_run(host, port, wire, conc, int(plan["warmup"]), plan["max_seconds"]))
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        shared, elapsed = runner.run(
            _run(host, port, wire, conc, int(plan["max_requests"]), float(plan["max_seconds"]))
        )
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    out = summarise(shared.latencies, shared.statuses, elapsed)
    client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    out["concurrency"] = conc
    out["client_cpu_s"] = client_cpu
    out["client_cpu_ms_per_req"] = 1e3 * client_cpu / max(out["requests"], 1)
    return out


def main() -> int:
    plan = json.load(sys.stdin)
    json.dump(run_plan(plan), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

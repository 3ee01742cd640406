"""Signed webhooks: what a job's callback receives, and how a receiver checks it.

The body is the job as ``GET /jobs/{id}`` gives it (JSON). The request carries

    Musicprism-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
    Musicprism-Event: job.done | job.failed
    Musicprism-Delivery: job-<id>

as Stripe signs its webhooks: the timestamp is inside the signed bytes, so a captured request
replayed later fails the receiver's freshness check (:func:`verify`, 5 minutes by default).
Delivery is at least once: a receiver that answered 2xx but whose answer was lost (or whose
sender died before recording it) may get the same delivery again; ``Musicprism-Delivery`` is
the key to drop repeats by.

Only hosts named in the settings receive webhooks (``MUSICPRISM_WEBHOOK_HOSTS``), redirects are
never followed (a 3xx is a failed attempt), and every attempt is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from service.errors import InvalidValue

SIGNATURE_HEADER = "Musicprism-Signature"
EVENT_HEADER = "Musicprism-Event"
DELIVERY_HEADER = "Musicprism-Delivery"
MAX_URL_CHARS = 2_000
MAX_BACKOFF_S = 3_600.0


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Musicprism-Signature`` value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None,
           tolerance_s: float = 300.0) -> bool:
    """What a receiver runs: the signature matches and is no older than ``tolerance_s``."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(fields.get("v1", ""), _mac(secret, timestamp, body))


def allowed_hosts(setting: str) -> frozenset[str]:
    """The setting's comma-separated ``host`` or ``host:port`` entries, lower case."""
    return frozenset(h.strip().lower() for h in setting.split(",") if h.strip())


def check_callback_url(url: str, hosts: Iterable[str]) -> str:
    """``url`` when it is an http(s) URL to an allowed host (``host`` allows any port of it,
    ``host:port`` that port only), without credentials or fragment.

    Raises:
        InvalidValue: anything else, naming the allowed hosts.
    """
    allowed = sorted(hosts)
    if not allowed:
        raise InvalidValue("callback_url", url[:100],
                           "no webhook hosts are allowed (set MUSICPRISM_WEBHOOK_HOSTS)")
    if len(url) > MAX_URL_CHARS:
        raise InvalidValue("callback_url", url[:100], f"longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidValue("callback_url", url[:100], str(exc)) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidValue("callback_url", url[:100], "must be an http or https URL")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidValue("callback_url", url[:100], "must hold no credentials or fragment")
    if host not in allowed and f"{host}:{port}" not in allowed:
        raise InvalidValue("callback_url", url[:100],
                           f"host {host!r} is not allowed; allowed: {', '.join(allowed)}")
    return url


def backoff_s(attempt: int, base_s: float) -> float:
    """Wait before the try after try number ``attempt`` (1-based): base, 2 base, 4 base ..."""
    return float(min(base_s * 2.0 ** (attempt - 1), MAX_BACKOFF_S))


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float,
         ) -> tuple[int | None, str | None]:
    """One POST, redirects not followed: (status, None), or (None, why it failed)."""
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout_s)
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout_s)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers={**headers,
                     "Content-Type": "application/json", "User-Agent": "musicprism-webhooks"})
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status, None
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    finally:
        conn.close()

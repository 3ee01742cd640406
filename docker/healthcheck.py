"""Container health check: exit 0 when GET /healthz answers 200, else 1 (stdlib only).

The image's HEALTHCHECK and docker-compose.yml run it; no curl is needed in the image. The
port is MUSICPRISM_PORT (default 8000), as for ``musicprism serve``.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

TIMEOUT_S = 4.0


def check(url: str, timeout: float = TIMEOUT_S) -> tuple[bool, str]:
    """Whether ``url`` answers 200 within ``timeout`` seconds, and what happened."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local URL
            return response.status == 200, f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url}: {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    port = os.environ.get("MUSICPRISM_PORT", "8000")
    url = args[0] if args else f"http://127.0.0.1:{port}/healthz"
    ok, what = check(url)
    sys.stderr.write(what + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

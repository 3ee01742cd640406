"""Debian's Chromium driven by Playwright, headless, offline, never downloaded.

Playwright's own browsers are never installed (`playwright install` is not run anywhere): the
tests launch /usr/bin/chromium, which `make sysdeps` installs with apt-get.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


class ChromiumMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium "
            "(`make sysdeps`, or apt-get install chromium)"
        )


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the whole block."""
    if shutil.which(CHROMIUM) is None:
        raise ChromiumMissing()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watch:
    """What a page did besides what a test looks at: console errors, uncaught exceptions,
    requests that left the server's origin, and audio responses."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    audio: list[tuple[int, str | None]] = field(default_factory=list)  # (status, Content-Range)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("request", self._request)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(request.url)

    def _response(self, response) -> None:  # type: ignore[no-untyped-def]
        if urlsplit(response.url).path.endswith("/audio"):
            self.audio.append((response.status, response.headers.get("content-range")))

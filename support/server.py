"""A real ``musicprism serve`` (uvicorn) in a subprocess on a free loopback port.

Tests that need the service as it runs in production (its own process, a real HTTP stack, a
store shared with other processes) start one with :func:`serve`; settings travel in the
environment, as they do in a deployment. The server is always stopped (SIGTERM, then SIGKILL)
when the block ends, and its log is kept in a file for failure messages.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
# Exit statuses of a graceful stop: uvicorn finishes the lifespan on SIGTERM, then re-raises
# the signal, so a clean shutdown may also read as "killed by SIGTERM".
GRACEFUL = (0, -signal.SIGTERM)


class ServerError(RuntimeError):
    """The server exited, or did not become ready; carries the end of its log."""

    def __init__(self, message: str, log: str) -> None:
        self.log = log
        super().__init__(f"{message}\n--- server log (last lines) ---\n{log}")


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def subprocess_env(overrides: Mapping[str, str], *, repo_on_path: bool = True) -> dict[str, str]:
    """This process's environment without any ``MUSICPRISM_*`` / ``DATABASE_URL`` setting
    (the test's own settings must be the only ones), plus ``overrides``; the checkout goes
    first on PYTHONPATH unless ``repo_on_path`` is false (an installed package is tested)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("MUSICPRISM_") or k == "DATABASE_URL")
    }
    if repo_on_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    else:
        env.pop("PYTHONPATH", None)
    env.update(overrides)
    return env


def musicprism_command(*args: str) -> list[str]:
    """The ``musicprism`` command line run by this interpreter (no installed script needed)."""
    return [sys.executable, "-m", "service.cli", *args]


@dataclass
class Server:
    """A running server: ``base_url`` is ``http://127.0.0.1:<port>``."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log(self, lines: int = 60) -> str:
        """The last ``lines`` lines of the server's stdout and stderr."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful: the lifespan saves a snapshot), SIGKILL after ``timeout``;
        returns the exit status (one of ``GRACEFUL`` when the shutdown was clean)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return int(self.process.returncode)

    def wait_ready(self, timeout: float) -> None:
        """Poll ``/readyz`` until it answers 200; raises ServerError if the process exits
        first or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        with httpx2.Client(base_url=self.base_url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise ServerError(f"server exited with {self.process.returncode}", self.log())
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                time.sleep(0.1)
        raise ServerError(f"server not ready after {timeout:.0f} s", self.log())


def start_server(
    env: Mapping[str, str],
    log_path: Path,
    *,
    migrate: bool = False,
    ready_timeout: float = 180.0,
    args: Sequence[str] = (),
    executable: Sequence[str] | None = None,
    cwd: Path = REPO_ROOT,
) -> Server:
    """Start ``musicprism serve`` on a free port and wait until it is ready.

    Args:
        env: settings (``DATABASE_URL``, ``MUSICPRISM_*``) for the server's environment.
        log_path: file receiving the server's stdout and stderr.
        migrate: run the migrations first (tests usually hand it a migrated store).
        ready_timeout: seconds to wait for ``/readyz`` (a guard against hangs, not a
            performance assertion: start-up imports torch).
        args: more ``serve`` flags, e.g. ``("--workers", "2")``.
        executable: the ``musicprism`` command to run (default: this checkout's, through
            this interpreter); another one runs without the checkout on PYTHONPATH.
        cwd: the working directory of the server.

    Raises:
        ServerError: the server exited or did not get ready.
    """
    port = free_port()
    command = ["serve", "--host", HOST, "--port", str(port), *args]
    if not migrate:
        command.append("--no-migrate")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            musicprism_command(*command) if executable is None else [*executable, *command],
            cwd=cwd,
            env=subprocess_env(env, repo_on_path=executable is None),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process=process, base_url=f"http://{HOST}:{port}", log_path=log_path)
    try:
        server.wait_ready(ready_timeout)
    except BaseException:
        server.stop(timeout=5.0)
        raise
    return server


@contextmanager
def serve(env: Mapping[str, str], log_path: Path, **kwargs: object) -> Iterator[Server]:
    """``start_server`` as a context manager that always stops the server."""
    server = start_server(env, log_path, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()

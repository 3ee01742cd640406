"""The ingest pool's worker processes end with their parent, even one killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.audio import encode
from tests.service.conftest import SR, song
from tests.utils.models import tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_end_when_the_ingest_is_killed(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(12):
        (lib / f"{i}.flac").write_bytes(encode(song(f"s{i}", seconds=20.0), SR, "flac"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICPRISM_")}
    env.update(MUSICPRISM_MODEL_PATH=str(tiny_checkpoint(tmp_path / "model.pt")),
               MUSICPRISM_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "ingest", str(lib),
                             "--processes", "2", "--quiet"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while len(workers) < 2:  # the pool's two workers (a resource tracker may join them)
            assert proc.poll() is None and time.monotonic() < deadline, "no workers started"
            workers = [p for p in children(proc.pid)
                       if b"multiprocessing" in Path(f"/proc/{p}/cmdline").read_bytes()
                       and b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in workers):
        assert time.monotonic() < deadline, f"workers outlived their parent: {workers}"
        time.sleep(0.1)

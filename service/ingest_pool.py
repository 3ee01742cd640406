"""Analysing files in worker processes: decode, embed and fingerprint on every core.

``musicprism ingest`` plans each file in the main process (content hash, what the store
already has), sends what needs computing to a pool of processes that each load the model once
(``spawn``: no torch state is inherited), and commits each result in the main process as it
arrives, so the store and the index are written from one place, as by one process.
Decoding is most of the cost of ingest (benchmarks/results/ingest.md), and it scales with
cores; the writes do not need to.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from model import audio
from model.embed import Embedder
from service.catalog.recordings import Analysis, AudioAnalyser, Needs, analyse


def usable_cores() -> int:
    """Cores this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


_analyser: AudioAnalyser | None = None


def _exit_with(parent: int, every_s: float = 1.0) -> None:
    """End this worker when ``parent`` is gone. A worker holds the write end of the pool's
    own call queue, so a parent killed outright (SIGKILL, the OOM killer) would otherwise
    leave it waiting on that queue forever."""
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(1)


def _start(parent: int, model_path: str, max_seconds: float, min_seconds: float) -> None:
    """Runs once in each worker process: one torch thread, the model loaded once, and a
    watch on the parent."""
    import torch

    from model.checkpoint import load_checkpoint

    global _analyser
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    torch.set_num_threads(1)
    _analyser = AudioAnalyser(Embedder(load_checkpoint(Path(model_path))), max_seconds,
                              min_seconds)


def _analyse(path: str, needs: Needs) -> tuple[Analysis | None, str | None]:
    """In a worker: the analysis, or why the audio was refused (an exception's type and
    message travel as text: not every exception class survives pickling)."""
    assert _analyser is not None, "worker not started"
    try:
        return analyse(_analyser, path, needs), None
    except audio.AudioError as exc:
        return None, f"{type(exc).__name__}: {exc}"


class AnalysisPool:
    """At most ``2 * processes`` files in flight (memory stays bounded by that, not by the
    folder). Use as a context manager."""

    def __init__(self, processes: int, model_path: Path, max_seconds: float,
                 min_seconds: float) -> None:
        self.limit = 2 * processes
        self._pool = ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
            initargs=(os.getpid(), str(model_path), max_seconds, min_seconds))
        self._pending: dict[Future[tuple[Analysis | None, str | None]], object] = {}

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, path: Path, needs: Needs, tag: object
               ) -> list[tuple[object, Analysis | None, str | None]]:
        """Queue ``path``; returns the results that had to be collected to make room."""
        self._pending[self._pool.submit(_analyse, str(path), needs)] = tag
        return self._collect(block=len(self._pending) >= self.limit)

    def run(self, jobs: Iterable[tuple[Path, Needs, object]]
            ) -> Iterator[tuple[object, Analysis | None, str | None]]:
        """Every job's result, as they finish (service/ingest_engines.py): the jobs are
        taken one at a time, so files are planned while others are analysed."""
        for path, needs, tag in jobs:
            yield from self.submit(path, needs, tag)
        yield from self.drain()

    def drain(self) -> list[tuple[object, Analysis | None, str | None]]:
        """Every result still in flight."""
        out = []
        while self._pending:
            out += self._collect(block=True)
        return out

    def _collect(self, *, block: bool) -> list[tuple[object, Analysis | None, str | None]]:
        if not self._pending:
            return []
        done, _ = wait(self._pending, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        return [(self._pending.pop(f), *f.result()) for f in done]

"""Where ingest's analyses run: the engines behind ``musicprism ingest --engine``.

Ingest plans each file, has an engine decode, embed and fingerprint what needs computing,
and commits each result, all from one loop (:func:`service.ingest.ingest_folder`). An engine
only analyses: it takes ``(path, needs, tag)`` jobs and yields ``(tag, analysis, error)`` as
the analyses finish, in any order, one result per job. ``error`` is the refused audio's
exception type and message (``"AudioDecodeError: ..."``), with ``analysis`` None.

- ``local``: in this process (one process), or a pool of worker processes
  (service/ingest_pool.py).
- ``ray``: actors on a Ray cluster, local or at an address (service/ingest_ray.py; needs the
  ``[ray]`` extra, imported only when asked for).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from model.audio_errors import AudioError

if TYPE_CHECKING:  # the catalogue imports torch: keep `musicprism --help`, which lists
    # the engines, fast
    from service.catalog.recordings import Analysis, AudioAnalyser, Needs

ENGINES = ("local", "ray")

Job: TypeAlias = "tuple[Path, Needs, object]"
Result: TypeAlias = "tuple[object, Analysis | None, str | None]"
Engine: TypeAlias = "Callable[[Iterable[Job]], Iterator[Result]]"


class EngineUnavailable(RuntimeError):
    """An engine that cannot run here: its extra is not installed, or its cluster is not
    reachable."""


@dataclass(frozen=True)
class EngineSpec:
    """What an engine is asked for.

    Args:
        name: one of :data:`ENGINES`.
        workers: analyses at once (processes, or Ray actors); None: every usable core
            (``local``), every CPU of the cluster (``ray``).
        model_path: the checkpoint workers load (each loads it once).
        address: ``ray`` only: a running cluster (``host:port``, ``ray://host:port`` or
            ``auto``); None starts a local one for this run.
    """

    name: str = "local"
    workers: int | None = 1
    model_path: Path | None = None
    address: str | None = None

    def checked(self) -> EngineSpec:
        """This spec; raises ValueError naming the valid engines, or what is missing."""
        if self.name not in ENGINES:
            raise ValueError(f"unknown engine '{self.name}': valid engines are "
                             f"{', '.join(ENGINES)}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.address is not None and self.name != "ray":
            raise ValueError(f"an address is for the ray engine, not '{self.name}'")
        return self


def refusal(exc: AudioError) -> str:
    """How a refused file's reason is reported (and counted, by the text before ':')."""
    return f"{type(exc).__name__}: {exc}"


def in_process(analyser: AudioAnalyser) -> Engine:
    """Analyses one after the other, here."""
    from service.catalog.recordings import analyse

    def run(jobs: Iterable[Job]) -> Iterator[Result]:
        for path, needs, tag in jobs:
            try:
                yield tag, analyse(analyser, path, needs), None
            except AudioError as exc:
                yield tag, None, refusal(exc)

    return run


@contextmanager
def open_engine(spec: EngineSpec, analyser: AudioAnalyser) -> Iterator[Engine]:
    """The engine ``spec`` names, for the duration of the ``with`` block. ``analyser`` is
    the catalogue's own (used in process; workers build theirs from ``spec.model_path``
    and its duration limits)."""
    spec = spec.checked()
    if spec.name == "local" and spec.workers == 1:
        yield in_process(analyser)
        return
    if spec.model_path is None:
        raise ValueError("analysing in other processes needs the checkpoint's path")
    limits = (analyser.max_seconds, analyser.min_seconds)
    if spec.name == "local":
        from service.ingest_pool import AnalysisPool, usable_cores

        with AnalysisPool(spec.workers or usable_cores(), spec.model_path, *limits) as pool:
            yield pool.run
        return
    from service.ingest_ray import ray_engine  # imports ray: only when asked for

    with ray_engine(spec.model_path, *limits, workers=spec.workers,
                    address=spec.address) as engine:
        yield engine

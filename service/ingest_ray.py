"""The ``ray`` ingest engine: decode, embed and fingerprint on a Ray cluster with Ray Data.

``musicprism ingest DIR --engine ray [--address HOST:PORT]`` plans every file in this process
(the driver), maps the analysis over the planned files with a pool of actors that each load
the checkpoint once (``map_batches`` with a callable class), and commits each result here as
it arrives (service/ingest.py), so the store and the index are written from one place, as by
the local engines. Results cross the cluster as ``.npz`` bytes (service/ingest_wire.py).

The only module that imports ``ray`` (the ``[ray]`` extra); nothing on the serving path
imports this one. Workers open the files by their path: on a cluster of several machines the
folder must be at the same path on every node (a shared mount).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from model.audio_errors import AudioError
from service.ingest_engines import Engine, EngineUnavailable, Job, Result, refusal
from service.ingest_wire import pack, unpack

log = logging.getLogger(__name__)

INSTALL = "pip install 'musicprism[ray]'"
CONNECT_TIMEOUT_S = 5.0
AUTH_HINT = "RAY_AUTH_MODE=token, and RAY_AUTH_TOKEN to its token (`ray get-auth-token`)"
# Offline and quiet: no uv-run runtime environment, no usage report.
RAY_ENV = {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", "RAY_USAGE_STATS_ENABLED": "0"}


class Analyser:
    """A Ray Data actor: loads the checkpoint once, then analyses one file per batch.

    A batch holds ``path``, ``embedding`` and ``fingerprint`` (what the file needs) and
    ``key``; the result holds ``key``, ``analysis`` (:func:`~service.ingest_wire.pack` bytes,
    empty when refused) and ``error`` (why the audio was refused, empty otherwise).
    """

    def __init__(self, model_path: str, max_seconds: float, min_seconds: float) -> None:
        import torch

        from model.checkpoint import load_checkpoint
        from model.embed import Embedder
        from service.catalog.recordings import AudioAnalyser

        torch.set_num_threads(1)  # one actor per CPU the cluster gave it
        self.analyser = AudioAnalyser(Embedder(load_checkpoint(Path(model_path))),
                                      max_seconds, min_seconds)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from service.catalog.recordings import Needs, analyse

        blobs, errors = [], []
        for path, emb, fp in zip(batch["path"], batch["embedding"], batch["fingerprint"],
                                 strict=True):
            try:
                needs = Needs(embedding=bool(emb), fingerprint=bool(fp))
                blobs.append(pack(analyse(self.analyser, str(path), needs)))
                errors.append("")
            except AudioError as exc:
                blobs.append(b"")
                errors.append(refusal(exc))
        return {"key": batch["key"], "analysis": np.array(blobs, dtype=object),
                "error": np.array(errors, dtype=object)}


def import_ray() -> Any:
    """The ``ray`` module; EngineUnavailable naming the extra when it is not installed."""
    for name, value in RAY_ENV.items():
        os.environ.setdefault(name, value)
    try:
        import ray
        import ray.data
    except ModuleNotFoundError as exc:
        raise EngineUnavailable(f"the ray engine needs Ray ({exc.name} is not installed): "
                                f"{INSTALL}") from None
    return ray


def check_reachable(address: str) -> None:
    """EngineUnavailable unless something listens at ``address`` (``host:port`` or
    ``ray://host:port``; ``auto`` is left to Ray). Ray itself retries an unreachable
    address for minutes."""
    if address == "auto":
        return
    parts = urlsplit(address if "://" in address else f"ray-gcs://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or port is None:
        raise EngineUnavailable(f"--address '{address}' is not host:port or ray://host:port")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise EngineUnavailable(f"no Ray cluster at '{address}': {exc.strerror or exc}"
                                ) from None


def _connect(ray: Any, workers: int | None, address: str | None) -> bool:
    """Connect to ``address``, or start a local cluster with ``workers`` CPUs (every usable
    core when None); a driver already connected is reused. True when this call connected
    (and must shut down)."""
    if ray.is_initialized():
        log.debug("ray: reusing this process's connection")
        return False
    quiet: dict[str, Any] = dict(log_to_driver=False, logging_level=logging.ERROR)
    if address is not None:
        check_reachable(address)
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:  # not Ray, a token refused
            raise EngineUnavailable(
                f"cannot join the Ray cluster at '{address}': {exc} (a cluster started with "
                f"`ray start` uses token authentication from Ray 2.59: set {AUTH_HINT})"
            ) from exc
    else:
        from service.ingest_pool import usable_cores

        # "local": a cluster of our own, even where another one runs on this machine
        ray.init(address="local", num_cpus=workers or usable_cores(), include_dashboard=False,
                 **quiet)
    return True


def _quiet(ray: Any) -> None:
    """No Ray Data progress bars (ingest has its own) or per-run banners."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


@contextmanager
def ray_engine(model_path: Path, max_seconds: float, min_seconds: float, *,
               workers: int | None = None, address: str | None = None) -> Iterator[Engine]:
    """An engine whose analyses run on Ray actors, ``workers`` of them (the cluster's CPUs
    when None), one CPU each."""
    ray = import_ray()
    started = _connect(ray, workers, address)
    try:
        _quiet(ray)
        actors = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))

        def run(jobs: Iterable[Job]) -> Iterator[Result]:
            jobs = list(jobs)  # planned before the pipeline starts: a dataset is of rows
            if not jobs:
                return
            rows = [{"key": i, "path": str(path), "embedding": needs.embedding,
                     "fingerprint": needs.fingerprint} for i, (path, needs, _) in enumerate(jobs)]
            analyses = ray.data.from_items(rows).map_batches(
                Analyser, fn_constructor_args=(str(model_path), max_seconds, min_seconds),
                batch_size=1, num_cpus=1,
                compute=ray.data.ActorPoolStrategy(size=min(actors, len(jobs))))
            for row in analyses.iter_rows():
                tag = jobs[int(row["key"])][2]
                if row["error"]:
                    yield tag, None, str(row["error"])
                else:
                    yield tag, unpack(bytes(row["analysis"])), None

        yield run
    finally:
        if started:
            ray.shutdown()

"""Make sure a model and a small demo catalogue are there (``musicprism demo``, for
``make serve``). Idempotent: a catalogue that already has tracks is left as it is."""

from __future__ import annotations

import logging
from pathlib import Path

from service.settings import Settings

log = logging.getLogger(__name__)


class ModelMissing(FileNotFoundError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"no trained model at {path}: train one with `musicprism train default` "
            "(model/configs/default.yaml) or set MUSICPRISM_MODEL_PATH"
        )


def build_demo_corpus(out: Path, *, size: str, progress: bool) -> Path:
    """Render the benchmark corpus of ``size`` into ``out`` unless its manifest exists."""
    if (out / "manifest.csv").exists():
        return out
    from model.data.benchmark.build import BuildConfig, build

    log.info("rendering the %s benchmark corpus into %s", size, out)
    build(
        BuildConfig(out=out, size=size, progress=progress, command=f"musicprism demo --size {size}")
    )
    return out


def ensure_demo(settings: Settings, *, size: str = "ci", progress: bool = True) -> str:
    from service.app import build_catalog, resolve_model_path
    from service.db import upgrade
    from service.ingest import ingest_folder

    model = resolve_model_path(settings)
    if not model.exists():
        raise ModelMissing(model)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    catalog = build_catalog(settings)
    try:
        catalog.open()
        corpus_dir = settings.data_dir / "datasets" / f"bench-{size}"
        if len(catalog.indexes):
            if settings.keep_audio and (corpus_dir / "manifest.csv").exists():
                # A catalogue ingested before audio copies were kept: going over the corpus
                # again adds the copies the page plays (nothing is decoded or embedded again).
                ingest_folder(catalog, corpus_dir, metadata=corpus_dir / "manifest.csv",
                              progress=False)
            return f"demo catalogue present: {len(catalog.indexes)} tracks"
        corpus = build_demo_corpus(corpus_dir, size=size, progress=progress)
        report = ingest_folder(catalog, corpus, metadata=corpus / "manifest.csv", progress=progress)
        catalog.indexes.save_snapshot()
        return f"demo catalogue ingested from {corpus}: {report.summary()}"
    finally:
        catalog.close()

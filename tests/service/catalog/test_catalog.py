"""The catalogue itself: its config, construction without I/O, opening, and its three parts
working on one served index (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from model.checkpoint import load_checkpoint
from service.app import build_catalog
from service.catalog import Catalog, CatalogConfig, TrackMeta
from service.db import make_engine, upgrade
from service.errors import NotReady, TrackNotFound
from service.settings import Settings
from support.audio import encode
from tests.service.conftest import SR, make_settings, song
from tests.utils.models import tiny_checkpoint


def test_config_from_settings_takes_every_field(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, index_factory="IVF16,Flat", max_audio_seconds=90.0,
                        min_audio_seconds=2.0, workers=3, index_delta_max=77,
                        fingerprints=False, fingerprint_min_aligned=20, keep_audio=True)
    config = CatalogConfig.from_settings(settings)
    assert config == CatalogConfig(index_dir=settings.index_dir, index_factory="IVF16,Flat",
                                   max_audio_seconds=90.0, min_audio_seconds=2.0, mmap=True,
                                   delta_max=77, fingerprints=False,
                                   fingerprint_min_aligned=20, audio_dir=settings.audio_dir,
                                   keep_audio=True)
    defaults = {f.name for f in dataclasses.fields(CatalogConfig) if f.name != "sync_interval"}
    assert defaults <= set(dataclasses.asdict(config))


def test_constructing_a_catalog_does_no_io(tmp_path: Path) -> None:
    """Nothing listens on port 1 and the index folder does not exist: construction must not
    notice; opening must."""
    model = load_checkpoint(tiny_checkpoint(tmp_path / "m.pt"))
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    index_dir = tmp_path / "no" / "indexes"
    catalog = Catalog(model, sessionmaker(bind=engine), CatalogConfig(index_dir=index_dir))
    assert not index_dir.parent.exists() and engine.pool.checkedout() == 0
    with pytest.raises(NotReady, match="not open yet"):
        _ = catalog.binding.model_version_id
    with pytest.raises(OperationalError):
        catalog.open()
    catalog.close()


def test_open_then_ingest_query_delete_share_one_index(tmp_path: Path, database_url: str
                                                       ) -> None:
    settings = make_settings(tmp_path, database_url)
    upgrade(settings.resolved_database_url)
    catalog = build_catalog(settings)
    try:
        assert catalog.open() == "rebuilt"  # an empty store, no snapshot yet
        ids = [catalog.recordings.ingest(encode(song(name), SR, "wav"), TrackMeta(title=name))
               .track.id for name in ("alpha", "beta", "gamma")]
        assert len(catalog.indexes) == 3 == catalog.queries.count()
        np.testing.assert_array_equal(catalog.queries.vector_of(ids[0]),
                                      catalog.indexes.index.get(ids[0]))
        _, hits = catalog.queries.similar(catalog.queries.vector_of(ids[0]), k=3)
        assert hits[0].track.id == ids[0] and hits[0].score == pytest.approx(1.0, abs=1e-5)
        catalog.recordings.delete(ids[1])
        with pytest.raises(TrackNotFound):
            catalog.queries.vector_of(ids[1])
        assert catalog.indexes.save_snapshot() is not None
    finally:
        catalog.close()
    again = build_catalog(settings)
    try:
        assert again.open() == "loaded, 0 events replayed"
        assert sorted(again.indexes.index.ids().tolist()) == [ids[0], ids[2]]
    finally:
        again.close()


def test_tag_search_uses_the_models_proxies(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url)
    upgrade(settings.resolved_database_url)
    catalog = build_catalog(settings)
    try:
        catalog.open()
        for name in ("alpha", "beta", "gamma", "delta"):
            catalog.recordings.ingest(encode(song(name), SR, "wav"), TrackMeta(title=name))
        tag = catalog.schema.tags[0]
        hits = catalog.queries.search_tags([tag], k=4)
        facet = catalog.schema.facet_of_concept(catalog.schema.concept_of_tag(tag))
        proxy = catalog.model.tag_proxies[catalog.schema.tag_index(tag)]
        k = len(catalog.schema.facets)
        want = {h.track.id: float(catalog.indexes.index.get(h.track.id)[facet.slice] @ proxy)
                * np.sqrt(k) for h in hits}  # the cosine of the facet (unit after sqrt(K))
        assert [h.track.id for h in hits] == sorted(want, key=want.get, reverse=True)
        for h in hits:
            assert h.score == pytest.approx(want[h.track.id], abs=1e-5)
    finally:
        catalog.close()

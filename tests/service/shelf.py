"""A catalogue with full metadata (artist, album, year, ISRC, several lengths), built once per
test module over SQLite or PostgreSQL, and brute-force answers computed from it.

Filter and multi-seed tests only read it, so one build serves a whole module. Brute force
reads the stored vectors and tag scores and applies every filter in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from layout.facets import facet_cosines
from service import store
from service.app import create_app
from service.db import upgrade
from support.audio import encode
from tests.service.conftest import SR, make_settings, song, upload
from tests.utils.db import create_schema, drop_schema, with_search_path


@dataclass(frozen=True)
class Row:
    """What a track was uploaded with (None: not given)."""

    key: str
    artist: str
    album: str | None
    year: int | None
    isrc: str | None
    seconds: float


# 12 tracks: two albums share an artist, years span 1965..2021 with two missing, lengths
# 1.5..5 s, ISRCs on most (one written with hyphens and in lower case).
ROWS = [
    Row("a1", "Ann", "First", 1965, "USRC17600001", 2.0),
    Row("a2", "Ann", "First", 1965, "USRC17600002", 3.0),
    Row("a3", "ann", "Second", 1972, "USRC17600003", 4.0),
    Row("b1", "Bob", "Blue", 1980, "GBAYE0000001", 2.5),
    Row("b2", "Bob", "Blue", 1990, "GBAYE0000002", 5.0),
    Row("b3", "Bob", None, None, None, 1.5),
    Row("c1", "Cy", "Green", 2001, "fr-z03-01-00001", 3.5),
    Row("c2", "Cy", "Green", 2005, "FRZ030100002", 2.0),
    Row("d1", "Dee", "Red", 2010, "DEA120000001", 4.5),
    Row("d2", "Dee", "Red", 2015, None, 3.0),
    Row("e1", "O'Brien; DROP TABLE tracks; --", "Red", 2021, "JPA120000001", 2.5),
    Row("e2", "Éva", "Ünïcode", None, "JPA120000002", 4.0),
]


@dataclass
class Shelf:
    client: TestClient
    ids: dict[str, int]  # row key -> track id
    rows: dict[int, Row]  # track id -> row
    tags: dict[int, dict[str, float]] = field(default_factory=dict)  # stored tag scores

    @property
    def catalog(self):  # noqa: ANN201 - the app's Catalog
        return self.client.app.state.catalog

    def vector(self, track_id: int) -> np.ndarray:
        return self.catalog.indexes.index.get(track_id)

    def ranked(
        self,
        query: np.ndarray,
        weights: dict[str, float],
        keep: Callable[[int], bool] = lambda _: True,
    ) -> list[tuple[int, float]]:
        """Every kept track's score sum_c w_c cos_c against ``query``, best first."""
        names = self.catalog.schema.facet_names
        out = []
        for tid in self.rows:
            if not keep(tid):
                continue
            cos = facet_cosines(query, self.vector(tid)[None, :], self.catalog.schema)[0]
            out.append((tid, float(sum(weights.get(n, 0.0) * c for n, c in zip(names, cos,
                                                                              strict=True)))))
        return sorted(out, key=lambda p: -p[1])


def _store_tags(shelf: Shelf) -> None:
    catalog = shelf.catalog
    with catalog.binding.session() as session:
        for tid in shelf.rows:
            by_concept = store.tag_scores_by_concept(
                session, track_id=tid, model_version_id=catalog.binding.model_version_id
            )
            shelf.tags[tid] = {t: s for scores in by_concept.values() for t, s in scores.items()}


def _fill(client: TestClient) -> Shelf:
    shelf = Shelf(client=client, ids={}, rows={})
    for row in ROWS:
        form = {"title": row.key.upper(), "artist": row.artist}
        form |= {k: str(v) for k, v in (("album", row.album), ("year", row.year),
                                         ("isrc", row.isrc)) if v is not None}
        r = upload(client, encode(song(row.key, row.seconds), SR, "flac"), f"{row.key}.flac",
                   **form)
        assert r.status_code == 201, r.text
        tid = r.json()["track"]["id"]
        shelf.ids[row.key], shelf.rows[tid] = tid, row
    _store_tags(shelf)
    return shelf


def open_shelf(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Shelf]:
    """The shelf over ``request.param`` ("sqlite" or "postgres"), for a module-scoped fixture
    parametrized with ``tests.conftest.BACKENDS``::

        @pytest.fixture(scope="module", params=BACKENDS)
        def shelf(request, tmp_path_factory):
            yield from open_shelf(request, tmp_path_factory)
    """
    tmp: Path = tmp_path_factory.mktemp("shelf")
    backend = request.param
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'store.db'}"
    else:
        base, prefix = request.getfixturevalue("postgres_base")
        schema = f"{prefix}shelf_{request.module.__name__.rsplit('.', 1)[-1]}"
        create_schema(base, schema)
        url = with_search_path(base, schema)
    upgrade(url)
    try:
        with TestClient(create_app(make_settings(tmp, url))) as client:
            yield _fill(client)
    finally:
        if schema is not None:
            drop_schema(base, schema)

"""Export a real catalogue (real audio, a real encoder, SQLite and PostgreSQL) to Parquet and
import it into a second instance: the same tracks, tags, vectors, fingerprints and answers."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from service import store
from service.app import create_app
from service.transfer import FORMAT, TransferError, export_catalog, import_catalog
from support.audio import encode
from tests.service.conftest import SONGS, SR, Catalogue, make_settings
from tests.utils.models import tiny_checkpoint


def instance(tmp_path: Path, url: str, model_path: Path) -> TestClient:
    """An app over ``url`` with its own data directory, serving ``model_path``."""
    return TestClient(create_app(make_settings(tmp_path, url, model_path=model_path)))


@pytest.fixture
def b(catalogue: Catalogue, other_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """Instance B: empty, another store and data directory, the same model as A."""
    with instance(tmp_path / "b", other_url, catalogue.settings.model_path) as client:
        yield client


def catalog_of(client: TestClient):  # noqa: ANN201 - the app's Catalog
    return client.app.state.catalog  # type: ignore[attr-defined]


def by_hash(client: TestClient) -> dict[str, dict]:
    """Every track of the instance as the API shows it, by content hash."""
    tracks = client.get("/tracks", params={"limit": "100"}).json()["tracks"]
    full = [client.get(f"/tracks/{t['id']}").json() for t in tracks]
    return {t["content_hash"]: t for t in full}


def test_the_file_describes_itself_and_holds_the_stored_values(catalogue: Catalogue,
                                                               tmp_path: Path) -> None:
    catalog = catalog_of(catalogue.client)
    report = export_catalog(catalog, tmp_path / "a.parquet")
    assert (report.tracks, report.left_out, report.fingerprinted) == (6, 0, 6)
    pf = pq.ParquetFile(tmp_path / "a.parquet")
    header = pf.schema_arrow.metadata[b"musicprism"].decode()
    table = pf.read()
    assert FORMAT in header and catalog.model.version in header and catalog.model.sha256 in header
    assert table.num_rows == 6 == report.tracks and report.size_bytes > 0
    dim = catalog.schema.dim
    vector_type = table.schema.field("vector").type
    assert (vector_type.list_size, vector_type.value_type) == (dim, pa.float32())
    gamma = next(r for r in table.to_pylist() if r["source_id"] == catalogue.ids["gamma"])
    stored = catalog.queries.windows_of(catalogue.ids["gamma"])
    assert (gamma["title"], gamma["artist"]) == ("Gamma", "Bob")
    np.testing.assert_array_equal(np.array(gamma["vector"], np.float32), stored.vector)
    np.testing.assert_array_equal(np.array(gamma["windows"], np.float32), stored.windows)
    tags = dict(zip(catalog.schema.tags, gamma["tag_scores"], strict=True))
    with catalog.binding.session() as session:
        by_concept = store.tag_scores_by_concept(
            session, track_id=catalogue.ids["gamma"],
            model_version_id=catalog.binding.model_version_id)
    assert {t: v for scores in by_concept.values() for t, v in scores.items()} == tags
    assert len(gamma["fingerprint_hashes"]) == len(gamma["fingerprint_times"]) > 0


def test_b_holds_what_a_holds(catalogue: Catalogue, b: TestClient, tmp_path: Path) -> None:
    a_catalog, b_catalog = catalog_of(catalogue.client), catalog_of(b)
    export_catalog(a_catalog, tmp_path / "a.parquet")
    report = import_catalog(b_catalog, tmp_path / "a.parquet")
    assert (report.rows, report.added, report.embedded, report.present) == (6, 6, 0, 0)
    assert sorted(s for s, _ in report.id_map) == sorted(catalogue.ids.values())
    a_tracks, b_tracks = by_hash(catalogue.client), by_hash(b)
    assert a_tracks.keys() == b_tracks.keys() and len(a_tracks) == len(SONGS)
    keys = ("title", "artist", "album", "year", "isrc", "external_id", "source",
            "duration", "tags")
    for h, a in a_tracks.items():
        assert {k: b_tracks[h][k] for k in keys} == {k: a[k] for k in keys}
        a_vec = catalogue.client.get(f"/tracks/{a['id']}/vectors", params={"windows": "true"})
        b_vec = b.get(f"/tracks/{b_tracks[h]['id']}/vectors", params={"windows": "true"})
        assert b_vec.json() == a_vec.json()  # vector, facets, windows, timing: equal
    ids = {h: (a_tracks[h]["id"], b_tracks[h]["id"]) for h in a_tracks}
    with a_catalog.binding.session() as sa, b_catalog.binding.session() as sb:
        a_fp = store.fingerprints_of(sa, track_ids=[i for i, _ in ids.values()])
        a_tags, b_tags = ({h: store.tag_scores_by_concept(
            s, track_id=ids[h][n], model_version_id=c.binding.model_version_id) for h in ids}
            for n, (s, c) in enumerate(((sa, a_catalog), (sb, b_catalog))))
        b_fp = store.fingerprints_of(sb, track_ids=[j for _, j in ids.values()])
    assert b_tags == a_tags and len(a_tags) == len(SONGS)  # full precision, unlike the API
    for i, j in ids.values():
        np.testing.assert_array_equal(b_fp[j].hashes, a_fp[i].hashes)
        np.testing.assert_array_equal(b_fp[j].times, a_fp[i].times)
        assert b_fp[j].version == a_fp[i].version and len(a_fp[i]) > 0


def test_b_answers_as_a_does(catalogue: Catalogue, b: TestClient, tmp_path: Path) -> None:
    export_catalog(catalog_of(catalogue.client), tmp_path / "a.parquet")
    import_catalog(catalog_of(b), tmp_path / "a.parquet")
    assert len(catalog_of(b).indexes) == len(SONGS)  # caught up from the change log
    hash_of_a = {t["id"]: h for h, t in by_hash(catalogue.client).items()}
    id_in_b = {h: t["id"] for h, t in by_hash(b).items()}
    for a_id, h in hash_of_a.items():
        a_hits = catalogue.client.get(f"/similar/{a_id}", params={"k": "5"}).json()["results"]
        b_hits = b.get(f"/similar/{id_in_b[h]}", params={"k": "5"}).json()["results"]
        assert [hash_of_a[r["track"]["id"]] for r in a_hits] == [
            next(k for k, v in id_in_b.items() if v == r["track"]["id"]) for r in b_hits]
        for ra, rb in zip(a_hits, b_hits, strict=True):
            assert rb["score"] == pytest.approx(ra["score"], abs=1e-6)
            assert rb["facets"] == pytest.approx(ra["facets"], abs=1e-6)
    # Identification works on B as on A: the fingerprints came with the file.
    clip = encode(catalogue.audio["delta"][round(0.7 * SR): round(3.7 * SR)], SR, "flac")
    a_first, b_first = (c.post("/similar", files={"file": ("q.flac", clip)}).json()["results"][0]
                        for c in (catalogue.client, b))
    assert a_first["track"]["title"] == b_first["track"]["title"] == "Delta"
    assert a_first["match"] is not None and b_first["match"] == a_first["match"]
    assert b_first["match"]["offset"] == pytest.approx(0.7, abs=0.05)


def test_importing_again_adds_nothing(catalogue: Catalogue, b: TestClient,
                                      tmp_path: Path) -> None:
    export_catalog(catalog_of(catalogue.client), tmp_path / "a.parquet")
    first = import_catalog(catalog_of(b), tmp_path / "a.parquet")
    with catalog_of(b).binding.session() as session:
        seq = store.latest_seq(session)
    again = import_catalog(catalog_of(b), tmp_path / "a.parquet")
    assert (again.rows, again.added, again.present) == (6, 0, 6)
    assert again.id_map == first.id_map
    with catalog_of(b).binding.session() as session:
        assert store.latest_seq(session) == seq and store.count_tracks(session) == 6


def test_another_model_is_refused_and_nothing_changes(catalogue: Catalogue, other_url: str,
                                                      tmp_path: Path) -> None:
    export_catalog(catalog_of(catalogue.client), tmp_path / "a.parquet")
    other_model = tiny_checkpoint(tmp_path / "other.pt", seed=1)
    with instance(tmp_path / "c", other_url, other_model) as c:
        theirs, ours = catalog_of(catalogue.client).model, catalog_of(c).model
        with pytest.raises(TransferError) as err:
            import_catalog(catalog_of(c), tmp_path / "a.parquet")
        message = str(err.value)
        assert theirs.version in message and ours.version in message and theirs != ours
        assert "ingest the audio again" in message and "nothing was imported" in message
        assert c.get("/tracks").json()["total"] == 0


def test_an_empty_catalogue_exports_and_imports(catalogue: Catalogue, b: TestClient,
                                                tmp_path: Path) -> None:
    report = export_catalog(catalog_of(b), tmp_path / "empty.parquet")
    assert (report.tracks, report.left_out) == (0, 0)
    assert pq.ParquetFile(tmp_path / "empty.parquet").metadata.num_rows == 0
    back = import_catalog(catalog_of(catalogue.client), tmp_path / "empty.parquet")
    assert (back.rows, back.added, back.present) == (0, 0, 0)
    assert catalogue.client.get("/tracks").json()["total"] == len(SONGS)


def test_without_windows_the_file_is_smaller_and_not_importable(
        catalogue: Catalogue, b: TestClient, tmp_path: Path) -> None:
    full = export_catalog(catalog_of(catalogue.client), tmp_path / "full.parquet")
    slim = export_catalog(catalog_of(catalogue.client), tmp_path / "slim.parquet",
                          windows=False)
    assert slim.size_bytes < full.size_bytes and slim.tracks == 6
    assert "windows" not in pq.ParquetFile(tmp_path / "slim.parquet").schema_arrow.names
    with pytest.raises(TransferError, match="exported with --no-windows"):
        import_catalog(catalog_of(b), tmp_path / "slim.parquet")
    assert b.get("/tracks").json()["total"] == 0


def test_export_refuses_to_overwrite(catalogue: Catalogue, tmp_path: Path) -> None:
    out = tmp_path / "a.parquet"
    out.write_bytes(b"keep me")
    with pytest.raises(TransferError, match="exists; pass --force"):
        export_catalog(catalog_of(catalogue.client), out)
    assert out.read_bytes() == b"keep me"
    assert export_catalog(catalog_of(catalogue.client), out, overwrite=True).tracks == 6
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert math.isfinite(pq.read_table(out)["duration_seconds"][0].as_py())

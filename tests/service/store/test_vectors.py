"""Stored vectors: bit-exact round trips, shape checks on write and read, bulk reads."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from service import store
from service.errors import DimensionMismatch, EmbeddingNotFound, InvalidValue, TrackNotFound
from tests.utils.db import DIM, create_track, model_version, put_embedding, track_fields


def _awkward_floats(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 values that a lossy path would change: subnormals, -0.0, extremes, NaN-free."""
    x = rng.standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    special = np.array(
        [
            -0.0,
            1e-45,
            -1e-45,
            1.1754942e-38,
            np.finfo(np.float32).max,
            np.finfo(np.float32).min,
            np.float32(1 / 3),
            np.nextafter(np.float32(1), np.float32(2)),
        ],
        dtype=np.float32,
    )
    flat[: len(special)] = special
    return x


def test_vectors_round_trip_bit_exactly(session: Session) -> None:
    mv = model_version(session)
    rng = np.random.default_rng(0)
    vector = _awkward_floats(rng, (DIM,))
    windows = _awkward_floats(rng, (5, DIM))
    fields = track_fields(1, mv.id) | {
        "vector": vector,
        "windows": windows,
        "window_seconds": 3.0,
        "hop_seconds": 1.5,
    }
    track, _ = create_track(session, **fields)
    session.expunge_all()
    got = store.get_embedding(session, track_id=track.id, model_version_id=mv.id)
    assert got.vector.dtype == np.float32 and got.vector.shape == (DIM,)
    assert got.windows.dtype == np.float32 and got.windows.shape == (5, DIM)
    assert got.vector.tobytes() == vector.tobytes()  # -0.0 and subnormals included
    assert got.windows.tobytes() == windows.tobytes()
    assert (got.window_seconds, got.hop_seconds, got.seq) == (3.0, 1.5, 1)
    assert store.get_vector(session, track_id=track.id, model_version_id=mv.id).tobytes() == (
        vector.tobytes()
    )
    # stored little-endian, whatever the host
    blob = session.execute(text("SELECT vector FROM embeddings")).scalar_one()
    assert bytes(blob) == vector.astype("<f4").tobytes()


def test_float64_input_is_stored_as_float32(session: Session) -> None:
    mv = model_version(session)
    v64 = np.random.default_rng(1).standard_normal(DIM)
    track, _ = create_track(session, **track_fields(1, mv.id) | {"vector": v64})
    got = store.get_vector(session, track_id=track.id, model_version_id=mv.id)
    assert np.array_equal(got, v64.astype(np.float32))


def test_hop_defaults_to_window_length(session: Session) -> None:
    mv = model_version(session)
    track, _ = create_track(session, **track_fields(1, mv.id))
    got = store.get_embedding(session, track_id=track.id, model_version_id=mv.id)
    assert got.hop_seconds == got.window_seconds == 3.0


@pytest.mark.parametrize(
    ("field", "value", "expected", "actual"),
    [
        ("vector", np.zeros(DIM + 1, np.float32), (DIM,), (DIM + 1,)),
        ("vector", np.zeros((1, DIM), np.float32), (DIM,), (1, DIM)),
        ("windows", np.zeros((2, DIM - 1), np.float32), (-1, DIM), (2, DIM - 1)),
        ("windows", np.zeros(DIM, np.float32), (-1, DIM), (DIM,)),
        ("windows", np.zeros((0, DIM), np.float32), ("W >= 1", DIM), (0, DIM)),
    ],
)
def test_wrong_shapes_are_refused(
    session: Session, field: str, value: np.ndarray, expected: tuple, actual: tuple
) -> None:
    mv = model_version(session)
    with pytest.raises(DimensionMismatch) as e:
        create_track(session, **track_fields(1, mv.id) | {field: value})
    assert (e.value.what, e.value.expected, e.value.actual) == (field, expected, actual)
    assert store.count_tracks(session) == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_vectors_are_refused(session: Session, bad: float) -> None:
    mv = model_version(session)
    vector = np.zeros(DIM, np.float32)
    vector[3] = bad
    with pytest.raises(InvalidValue):
        create_track(session, **track_fields(1, mv.id) | {"vector": vector})
    with pytest.raises(InvalidValue):
        create_track(session, **track_fields(1, mv.id) | {"vector": np.zeros(DIM, int)})
    assert store.count_tracks(session) == 0


def test_corrupt_blob_raises_dimension_mismatch_on_read(session: Session) -> None:
    mv = model_version(session)
    track, _ = create_track(session, **track_fields(1, mv.id))
    session.execute(
        text("UPDATE embeddings SET vector = :b WHERE track_id = :t"),
        {"b": np.zeros(DIM - 1, "<f4").tobytes(), "t": track.id},
    )
    session.commit()
    with pytest.raises(DimensionMismatch) as e:
        store.get_vector(session, track_id=track.id, model_version_id=mv.id)
    assert e.value.expected == (DIM,)
    assert e.value.actual == f"{(DIM - 1) * 4} bytes"
    with pytest.raises(DimensionMismatch):
        store.load_embeddings(session, model_version_id=mv.id)


def test_missing_vectors_raise_typed_errors(session: Session) -> None:
    mv = model_version(session)
    other = model_version(session, name="test-v2")
    track, _ = create_track(session, **track_fields(1, mv.id))
    with pytest.raises(EmbeddingNotFound) as e:
        store.get_vector(session, track_id=track.id, model_version_id=other.id)
    assert (e.value.track_id, e.value.model_version_id) == (track.id, other.id)
    with pytest.raises(TrackNotFound):
        store.get_embedding(session, track_id=track.id + 1, model_version_id=mv.id)


def test_iter_and_load_embeddings(session: Session) -> None:
    mv = model_version(session)
    expected = {}
    for n in range(1, 12):
        fields = track_fields(n, mv.id)
        track, _ = create_track(session, **fields)
        expected[track.id] = fields["vector"]
    batches = list(store.iter_embeddings(session, model_version_id=mv.id, batch=4))
    assert [len(ids) for ids, _ in batches] == [4, 4, 3]
    ids = np.concatenate([b[0] for b in batches])
    assert ids.dtype == np.int64 and ids.tolist() == sorted(expected)
    ids, vecs = store.load_embeddings(session, model_version_id=mv.id, batch=5)
    assert vecs.dtype == np.float32 and vecs.shape == (11, DIM) and vecs.flags.c_contiguous
    assert np.array_equal(vecs, np.stack([expected[i] for i in ids.tolist()]))
    # as of sequence number 5: the first five tracks only
    ids, vecs = store.load_embeddings(session, model_version_id=mv.id, max_seq=5)
    assert ids.tolist() == sorted(expected)[:5]


def test_load_embeddings_of_an_empty_store(session: Session) -> None:
    mv = model_version(session)
    ids, vecs = store.load_embeddings(session, model_version_id=mv.id)
    assert ids.shape == (0,) and ids.dtype == np.int64
    assert vecs.shape == (0, DIM) and vecs.dtype == np.float32
    assert list(store.iter_embeddings(session, model_version_id=mv.id)) == []


def test_get_vectors_keeps_order_and_skips_missing(session: Session) -> None:
    mv = model_version(session)
    made = [create_track(session, **track_fields(n, mv.id))[0].id for n in (1, 2, 3)]
    ids, vecs = store.get_vectors(
        session, track_ids=[made[2], 12345, made[0]], model_version_id=mv.id
    )
    assert ids.tolist() == [made[2], made[0]]
    assert np.array_equal(vecs[0], track_fields(3, mv.id)["vector"])
    assert np.array_equal(vecs[1], track_fields(1, mv.id)["vector"])


def test_put_embedding_replaces_vectors_and_scores(session: Session) -> None:
    mv = model_version(session)
    track, _ = create_track(session, **track_fields(1, mv.id))
    new = track_fields(2, mv.id)
    seq = put_embedding(
        session,
        track_id=track.id,
        model_version_id=mv.id,
        vector=new["vector"],
        windows=new["windows"][:2],
        window_seconds=2.0,
        tag_scores={"calm": 0.9},
        tag_concepts={"calm": "mood"},
    )
    assert seq == 2
    got = store.get_embedding(session, track_id=track.id, model_version_id=mv.id)
    assert np.array_equal(got.vector, new["vector"])
    assert got.windows.shape == (2, DIM) and got.seq == 2 and got.window_seconds == 2.0
    assert store.tag_scores_by_concept(session, track_id=track.id, model_version_id=mv.id) == {
        "mood": {"calm": 0.9}
    }
    assert [(e.seq, e.op) for e in store.events_since(session, after_seq=0)] == [
        (1, "add"),
        (2, "add"),
    ]
    with pytest.raises(TrackNotFound):
        put_embedding(
            session,
            track_id=track.id + 1,
            model_version_id=mv.id,
            vector=new["vector"],
            windows=new["windows"],
            window_seconds=2.0,
        )
    assert store.latest_seq(session) == 2


def test_a_second_model_version_lives_beside_the_first(session: Session) -> None:
    v1 = model_version(session)
    v2 = model_version(session, name="test-v2", dim=4)
    track, _ = create_track(session, **track_fields(1, v1.id))
    vec2 = np.arange(4, dtype=np.float32)
    put_embedding(
        session,
        track_id=track.id,
        model_version_id=v2.id,
        vector=vec2,
        windows=vec2[None, :],
        window_seconds=1.0,
    )
    assert store.get_vector(session, track_id=track.id, model_version_id=v2.id).tolist() == [
        0,
        1,
        2,
        3,
    ]
    assert np.array_equal(
        store.get_vector(session, track_id=track.id, model_version_id=v1.id),
        track_fields(1, v1.id)["vector"],
    )
    assert store.load_embeddings(session, model_version_id=v2.id)[1].shape == (1, 4)

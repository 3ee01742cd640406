"""The build plan: splits by piece, balance over forms and styles, determinism."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from model.data.benchmark.build import SplitLeak, verify_splits
from model.data.benchmark.catalog import Piece, build_catalogue
from model.data.benchmark.labels import FORMS, STYLES, PieceInfo
from model.data.benchmark.plan import (
    MAX_RENDITIONS,
    WINDOWS_PER_TRACK,
    PlanError,
    assign_splits,
    form_quotas,
    make_plan,
    size_to_clips,
)


@pytest.fixture(scope="module")
def catalogue() -> list[Piece]:
    return build_catalogue()


def _reels(n: int) -> list[Piece]:
    return [Piece(f"ryansMammoth/T{i}.abc#1", PieceInfo(f"ryansMammoth/T{i}.abc", 1, f"T{i}",
                                                        "reel"), "c|") for i in range(n)]


def test_assign_splits_fractions_per_stratum():
    pieces = _reels(100) + [Piece("bach/bwv1.6.mxl", PieceInfo("bach/bwv1.6.mxl"))]
    splits = assign_splits(pieces, seed=3)
    counts = Counter(splits[p.key] for p in pieces[:100])
    assert counts == {"train": 80, "val": 10, "test": 10}
    assert splits["bach/bwv1.6.mxl"] == "train"  # a stratum of one piece stays in train
    assert assign_splits(pieces, seed=3) == splits
    assert assign_splits(pieces, seed=4) != splits


def test_small_strata_keep_one_piece_in_val_and_test():
    assert Counter(assign_splits(_reels(3), seed=0).values()) == {
        "train": 1, "val": 1, "test": 1}


def test_form_quotas_water_filling():
    assert form_quotas({"reel": 1, "jig": 100}, 10) == {"reel": MAX_RENDITIONS, "jig": 6}
    assert form_quotas({"reel": 50, "jig": 50}, 11) == {"reel": 6, "jig": 5}
    assert sum(form_quotas({"reel": 2, "jig": 1}, 100).values()) == 3 * MAX_RENDITIONS


def test_plan_covers_styles_and_forms_and_never_splits_a_piece(catalogue):
    plan = make_plan(catalogue, 600, seed=0)
    assert len(plan) * WINDOWS_PER_TRACK == 600
    styles = Counter(t.style for t in plan if t.style)
    assert set(styles) == set(STYLES) and max(styles.values()) - min(styles.values()) <= 1
    forms = Counter(t.piece.genre[0] for t in plan if t.style is None)
    assert set(forms) == set(FORMS)
    split_of_piece: dict[str, set[str]] = defaultdict(set)
    for t in plan:
        split_of_piece[t.piece.key].add(t.split)
        assert t.style is not None or t.piece.genre
        assert t.style is None or t.piece.arrangeable
    assert all(len(s) == 1 for s in split_of_piece.values())
    assert len({t.track_id for t in plan}) == len(plan)


def test_plan_is_deterministic_per_seed(catalogue):
    a = make_plan(catalogue, 60, seed=1)
    assert a == make_plan(catalogue, 60, seed=1)
    b = make_plan(catalogue, 60, seed=2)
    assert [t.track_id for t in a] != [t.track_id for t in b]


def test_plan_errors(catalogue):
    with pytest.raises(PlanError, match="huge"):
        size_to_clips("huge")
    with pytest.raises(PlanError, match="at least 1"):
        make_plan(catalogue, 0, seed=0)
    assert size_to_clips("ci") == 200


def test_verify_splits_catches_a_leak():
    rows = [{"piece_id": "a", "track_id": "t1", "split": "train"},
            {"piece_id": "a", "track_id": "t2", "split": "train"},
            {"piece_id": "b", "track_id": "t3", "split": "test"}]
    verify_splits(rows)
    rows.append({"piece_id": "a", "track_id": "t4", "split": "val"})
    with pytest.raises(SplitLeak, match="'a'.*train.*val"):
        verify_splits(rows)

"""Evaluation on hand-built cases: every number below is worked out by hand."""

from pathlib import Path

import numpy as np
import pytest

from layout.schema import ConceptSchema
from model.data.base import MusicDataset, Track
from model.evaluation.evaluate import (
    TrackOutputs,
    WindowOutputs,
    aggregate,
    evaluate_outputs,
    markdown_table,
    track_metrics,
)
from model.evaluation.metrics import make_concept_triplets

SCHEMA = ConceptSchema({"genre": ("g1", "g2"), "mood": ("m1", "m2")}, facet_dim=2)
TAGS = {"A": ("g1", "m1"), "B": ("g1", "m2"), "C": ("g2", "m2")}
# clip -> track; windows: clip0 = w0, w1; clip1 = w2; clip2 = w3, w4; clip3 = w5
CLIPS = ["A", "A", "B", "C"]
WINDOW_CLIP = np.array([0, 0, 1, 2, 2, 3])
ANGLES = [0.0, 4.0, -30.0, 10.0, 17.0, 180.0]  # degrees, the same in both facets
# track-level tag probabilities (every window of a track carries its track's)
PROBS = {"A": [0.9, 0.3, 0.2, 0.55], "B": [0.8, 0.5, 0.6, 0.5], "C": [0.1, 0.7, 0.4, 0.6]}


def _vec(deg_g: float, deg_m: float) -> np.ndarray:
    g, m = np.radians(deg_g), np.radians(deg_m)
    return np.array([np.cos(g), np.sin(g), np.cos(m), np.sin(m)]) / np.sqrt(2)


def _dataset() -> MusicDataset:
    tracks = [Track(uid=f"c{i}", track_id=t, path=Path(f"c{i}.wav"), tags=TAGS[t],
                    labelled=True, split="test") for i, t in enumerate(CLIPS)]
    return MusicDataset(tracks, SCHEMA)


def _outputs() -> WindowOutputs:
    vectors = np.stack([_vec(a, a) for a in ANGLES]).astype(np.float32)
    track_of_window = [CLIPS[c] for c in WINDOW_CLIP]
    probs = np.array([PROBS[t] for t in track_of_window], dtype=np.float32)
    return WindowOutputs(vectors, probs, WINDOW_CLIP)


def test_window_and_track_metrics_by_hand():
    res = evaluate_outputs(_outputs(), _dataset(), SCHEMA, triplets=200, seed=0)
    # nearest other window: w0 -> w1 (4 deg), w1 -> w0 (4 < 6), w3 -> w1 (6 < 7: another
    # clip), w4 -> w3 (7)
    assert res["same_clip_r1"] == pytest.approx(3 / 4)
    # A's windows query among the windows of *other* clips: w0 -> w3 (B, 10 deg: miss,
    # although w1 of its own clip is nearer), w1 -> w3 (miss), w2 -> w0 (30 deg: hit)
    assert res["same_track_r1"] == pytest.approx(1 / 3)
    # ROC per tag: g1 1, g2 1, m1 0 (A, the only m1, scores lowest), m2 1/2
    assert res["roc_auc"] == pytest.approx((1 + 1 + 0 + 0.5) / 4)
    # AP per tag: g1 1, g2 1, m1 1/3, m2 (1 + 2/3) / 2
    assert res["pr_auc"] == pytest.approx((1 + 1 + 1 / 3 + 5 / 6) / 4)
    # tracks: A at -8.5 deg, B at 13.5, C at 180. Nearest: A -> B, B -> A, C -> B.
    assert res["R@1"] == pytest.approx(100 * (1 / 2 + 1 / 2 + 1 / 2) / 3)
    assert res["R@2"] == pytest.approx(100 * (1 / 2 + 1 + 1 / 2) / 3)
    assert "R@4" not in res  # 3 tagged tracks: K <= 2
    assert (res["tracks"], res["clips"], res["windows"]) == (3, 4, 6)
    # genre anchors A, B: their positive (B, A) is nearer than C -> all correct
    assert res["triplet_full.genre"] == 1.0
    # mood anchors B (pos C, neg A: wrong) and C (pos B, neg A: right)
    t = make_concept_triplets(np.array([[1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 0, 1]]),
                              [2, 3], 200, seed=1)
    assert res["triplet_full.mood"] == pytest.approx(np.mean(t[:, 0] == 2))
    assert res["triplet_sub.mood"] == res["triplet_full.mood"]  # facets agree here
    assert res["triplet_full"] == pytest.approx((1 + res["triplet_full.mood"]) / 2)


def test_clip_level_keeps_clips_apart():
    res = evaluate_outputs(_outputs(), _dataset(), SCHEMA, level="clip", triplets=50)
    assert res["tracks"] == 4


def test_aggregate_averages_facets_and_probabilities():
    tr = aggregate(_outputs(), _dataset(), SCHEMA)
    a = np.mean([_vec(x, x) for x in ANGLES[:3]], axis=0)
    expect = np.concatenate([a[:2] / np.linalg.norm(a[:2]), a[2:] / np.linalg.norm(a[2:])])
    np.testing.assert_allclose(tr.vectors[0], expect / np.sqrt(2), rtol=1e-5)
    np.testing.assert_allclose(tr.probs[2], PROBS["C"], rtol=1e-6)
    np.testing.assert_array_equal(tr.labels[1], [1, 0, 0, 1])


def test_sub_space_triplets_use_the_concept_facet():
    # mood facet: C sits on B; genre facet: C is far. Full space mixes both.
    v = np.stack([_vec(0, 0), _vec(20, 100), _vec(180, 100)])
    tr = TrackOutputs(v.astype(np.float32), np.zeros((3, 4), np.float32),
                      np.array([[1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 0, 1]], np.float32),
                      np.ones(3, bool))
    res = track_metrics(tr, SCHEMA, triplets=100, seed=0)
    t = make_concept_triplets(tr.labels, [2, 3], 100, seed=1)
    # mood sub-space: B and C coincide, A is 100 deg away: every mood triplet right
    assert res["triplet_sub.mood"] == 1.0
    # full space: anchor B: d(B, C) > d(B, A) (180 - 20 in genre) -> wrong; anchor C right
    assert res["triplet_full.mood"] == pytest.approx(np.mean(t[:, 0] == 2))
    assert res["triplet_sub.genre"] == res["triplet_full.genre"] == 1.0


def test_markdown_table():
    text = markdown_table({"m": {"roc_auc": 0.8123, "R@1": 45.04}},
                          (("roc_auc", "AUC", "{:.3f}"), ("R@1", "R@1", "{:.1f}"),
                           ("pr_auc", "PR", "{:.3f}")))
    assert text.splitlines() == ["| model | AUC | R@1 | PR |", "|---|---:|---:|---:|",
                                 "| m | 0.812 | 45.0 | - |"]

import numpy as np
import pytest

from benchmarks.real_excerpts import rank_of, service_rank, window_match
from model.embed import TrackEmbedding


def test_rank_of_counts_better_and_tied_others():
    scores = np.array([0.9, 0.5, 0.7, 0.7, 0.1])
    assert rank_of(scores, 0) == 0
    assert rank_of(scores, 2) == 2  # 0.9 is better, the other 0.7 ties against it
    assert rank_of(scores, 4) == 4


def test_window_match_is_the_mean_best_window_cosine():
    e = np.eye(3, dtype=np.float32)
    q = TrackEmbedding(windows=e[:2], vector=e[0], tag_probs=np.zeros(1), window_seconds=3,
                       hop_seconds=3)
    t = TrackEmbedding(windows=np.stack([e[0], (e[1] + e[2]) / np.sqrt(2)]), vector=e[0],
                       tag_probs=np.zeros(1), window_seconds=3, hop_seconds=3)
    assert window_match(q, t) == pytest.approx((1 + 1 / np.sqrt(2)) / 2, rel=1e-6)


def test_service_rank_puts_identified_tracks_first():
    scores = np.array([0.9, 0.5, 0.7, 0.2])
    assert service_rank(scores, 3, [3]) == 0
    assert service_rank(scores, 3, [1, 3]) == 1
    assert service_rank(scores, 2, []) == 1  # 0.9 is better
    assert service_rank(scores, 2, [1]) == 2  # the identified track, then 0.9
    assert service_rank(scores, 0, [1]) == 1

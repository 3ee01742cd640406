"""Evaluation: pure metric functions over numpy arrays (see :mod:`model.evaluation.metrics`)."""

from model.evaluation.metrics import (
    exact_knn,
    faiss_knn,
    macro_pr_auc,
    macro_roc_auc,
    make_concept_triplets,
    make_track_triplets,
    mapgtt_at_k,
    neighbours_excluding_self,
    recall_at_k,
    same_track_recall_at_1,
    triplet_accuracy,
)

__all__ = [
    "exact_knn",
    "faiss_knn",
    "macro_pr_auc",
    "macro_roc_auc",
    "make_concept_triplets",
    "make_track_triplets",
    "mapgtt_at_k",
    "neighbours_excluding_self",
    "recall_at_k",
    "same_track_recall_at_1",
    "triplet_accuracy",
]

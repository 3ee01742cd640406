"""Training losses for musicprism's encoder (see /work/shared/PAPERS.md).

Supervised, on embeddings (B, D) and multi-hot tags (B, T): triplet (plain, per concept on
facet slices, track-regularised), proxy and classification (plain, normalised, disentangled),
distillation of a teacher's soft tags (masked per tag).
Self-supervised, on two views (B, D): NT-Xent, BYOL, VICReg, Barlow Twins, DINO.
"""

from model.losses.barlow import BarlowTwinsLoss
from model.losses.byol import BYOLLoss, byol_momentum, ema_update
from model.losses.classification import ClassificationLoss
from model.losses.composition import MinedTripletLoss, PerConcept, SliceLoss, TrackRegularized
from model.losses.dino import DINOLoss, dino_teacher_temperature
from model.losses.distances import CosineDistance, NormalizedEuclidean
from model.losses.distillation import DistillationLoss, SoftTagKLLoss
from model.losses.heads import LossTagHead
from model.losses.layout import concept_columns, concept_slices, tag_slices
from model.losses.multilabel import MultiLabelBCELoss
from model.losses.ntxent import NTXentLoss
from model.losses.proxy import ProxyLoss
from model.losses.registry import LOSSES, LossMethod, loss_method, methods
from model.losses.triplet import TripletLoss, check_triplets
from model.losses.vicreg import VICRegLoss

__all__ = [
    "LOSSES",
    "LossMethod",
    "BYOLLoss",
    "BarlowTwinsLoss",
    "ClassificationLoss",
    "CosineDistance",
    "DINOLoss",
    "DistillationLoss",
    "MinedTripletLoss",
    "MultiLabelBCELoss",
    "NTXentLoss",
    "NormalizedEuclidean",
    "PerConcept",
    "ProxyLoss",
    "SliceLoss",
    "SoftTagKLLoss",
    "LossTagHead",
    "TrackRegularized",
    "TripletLoss",
    "VICRegLoss",
    "loss_method",
    "methods",
    "byol_momentum",
    "check_triplets",
    "concept_columns",
    "concept_slices",
    "dino_teacher_temperature",
    "ema_update",
    "tag_slices",
]

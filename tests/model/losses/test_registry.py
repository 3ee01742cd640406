import pytest
import torch

from layout.schema import ConceptSchema
from model.losses import LOSSES, build_loss, concept_columns, concept_slices, tag_slices

SCHEMA = {"genre": ("rock", "jazz", "pop"), "mood": ("sad", "happy")}
COLUMNS = {"genre": [0, 1, 2], "mood": [3, 4]}

KWARGS = {
    "triplet": {},
    "concept_triplet": {"concept_columns": COLUMNS},
    "track_triplet": {},
    "triplet_track_reg": {"concept_columns": COLUMNS},
    "proxy": {"num_tags": 5, "dim": 8},
    "classification": {"num_tags": 5, "dim": 8},
    "multilabel_bce": {},
    "ntxent": {},
    "byol": {},
    "vicreg": {},
    "barlow_twins": {},
    "dino": {"out_dim": 16},
}


def test_every_registered_loss_builds():
    assert set(KWARGS) == set(LOSSES)
    for name, kwargs in KWARGS.items():
        assert isinstance(build_loss(name, **kwargs), torch.nn.Module)


def test_registry_passes_kwargs():
    assert build_loss("ntxent", temperature=0.1).temperature == 0.1
    assert build_loss("proxy", num_tags=5, dim=8, temperature=0.1).head.temperature == 0.1
    assert build_loss("triplet_track_reg", concept_columns=COLUMNS, weight=0.25).weight == 0.25


def test_unknown_name_lists_valid_names():
    with pytest.raises(KeyError, match="unknown loss 'softmax'; valid losses: barlow_twins, byol"):
        build_loss("softmax")


def test_unknown_kwarg_raises():
    with pytest.raises(TypeError):
        build_loss("ntxent", tau=0.1)


def test_layout_from_disentangled_schema():
    schema = ConceptSchema(SCHEMA, facet_dim=4)
    assert concept_columns(schema) == COLUMNS
    assert concept_slices(schema) == {"genre": slice(0, 4), "mood": slice(4, 8)}
    assert tag_slices(schema) == [slice(0, 4)] * 3 + [slice(4, 8)] * 2
    loss = build_loss("proxy", num_tags=schema.num_tags, dim=schema.dim,
                      tag_slices=tag_slices(schema))
    assert loss.proxies[:3, 4:].abs().sum() == 0


def test_layout_from_plain_schema():
    schema = ConceptSchema(SCHEMA, facet_dim=8, disentangled=False)
    assert concept_columns(schema) == COLUMNS
    assert concept_slices(schema) is None and tag_slices(schema) is None

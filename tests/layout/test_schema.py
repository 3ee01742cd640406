import pytest

from layout.schema import ALL_FACET, ConceptSchema, SchemaError
from tests.utils.models import CONCEPTS, tiny_schema


def test_disentangled_layout():
    s = tiny_schema(facet_dim=8)
    assert s.facet_names == ("genre", "mood", "instrument", "era")
    assert s.dim == 32
    assert [(f.start, f.stop) for f in s.facets] == [(0, 8), (8, 16), (16, 24), (24, 32)]
    assert s.facet_of_concept("mood").name == "mood"
    assert s.tags[:5] == ("jazz", "rock", "folk song", "chorale", "happy")
    assert s.num_tags == 12
    assert s.tag_facet_index() == [0] * 4 + [1] * 3 + [2] * 3 + [3] * 2


def test_entangled_layout_has_one_all_facet():
    s = tiny_schema(disentangled=False, facet_dim=32)
    assert s.facet_names == (ALL_FACET,)
    assert s.dim == 32
    assert s.facet_of_concept("era").name == ALL_FACET
    assert set(s.tag_facet_index()) == {0}


def test_round_trip():
    s = tiny_schema()
    assert ConceptSchema.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    "concepts, message",
    [
        ({}, "at least one concept"),
        ({"genre": ("jazz",), "mood": ("jazz",)}, "tag 'jazz' is in both 'genre' and 'mood'"),
        ({"all": ("x",)}, "reserved"),
    ],
)
def test_invalid_schemas(concepts, message):
    with pytest.raises(SchemaError, match=message):
        ConceptSchema(concepts)


def test_unknown_names_list_the_valid_ones():
    s = tiny_schema()
    with pytest.raises(KeyError, match="valid facets: genre, mood, instrument, era"):
        s.facet("tempo")
    with pytest.raises(KeyError, match="unknown tag 'polka'"):
        s.tag_index("polka")
    with pytest.raises(SchemaError, match="unknown concept-schema keys"):
        ConceptSchema.from_dict({**s.to_dict(), "extra": 1})
    assert s.concept_of_tag("chorale") == "genre"
    assert CONCEPTS["era"] == s.concepts["era"]

"""From a :class:`layout.schema.ConceptSchema` to the maps the losses take: concept -> tag
columns of the label matrix, concept -> facet slice, and each tag's facet slice."""

from __future__ import annotations

from layout.schema import ConceptSchema


def concept_columns(schema: ConceptSchema) -> dict[str, list[int]]:
    """Concept -> its tag columns, in ``schema.tags`` order (the label matrix's columns)."""
    out: dict[str, list[int]] = {}
    pos = 0
    for concept, tags in schema.concepts.items():
        out[concept] = list(range(pos, pos + len(tags)))
        pos += len(tags)
    return out


def concept_slices(schema: ConceptSchema) -> dict[str, slice] | None:
    """Concept -> its facet slice when the schema is disentangled, else ``None`` (every
    concept lives in the full space)."""
    if not schema.disentangled:
        return None
    return {c: schema.facet_of_concept(c).slice for c in schema.concepts}


def tag_slices(schema: ConceptSchema) -> list[slice] | None:
    """For each tag (``schema.tags`` order) the facet slice of its concept, or ``None`` when
    the schema is not disentangled."""
    if not schema.disentangled:
        return None
    return [schema.facet_of_concept(c).slice for c, tags in schema.concepts.items() for _ in tags]

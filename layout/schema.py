"""The concept schema: which tags exist, which concept each belongs to, and which slice of the
embedding (facet) each concept owns.

A disentangled model has one facet per concept (Lee et al. 2020: genre / mood / instrument /
era, 64 dimensions each). A model without disentanglement has a single facet named ``all``
spanning the whole embedding; its tags still belong to their concepts, but every concept then
maps to the ``all`` facet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_FACET = "all"


class SchemaError(ValueError):
    """A concept schema that contradicts itself (duplicate tags, bad dimensions, ...)."""


@dataclass(frozen=True)
class Facet:
    """A contiguous slice ``[start, start + dim)`` of the embedding."""

    name: str
    start: int
    dim: int

    @property
    def stop(self) -> int:
        return self.start + self.dim

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)


@dataclass(frozen=True)
class ConceptSchema:
    """Tags grouped by concept, and the facet layout of the embedding.

    Args:
        concepts: concept name -> its tags, in a fixed order. Tag names are unique across
            concepts.
        facet_dim: dimensions per facet.
        disentangled: one facet per concept if true, else a single ``all`` facet of
            ``facet_dim`` dimensions.
    """

    concepts: dict[str, tuple[str, ...]]
    facet_dim: int = 64
    disentangled: bool = True
    facets: tuple[Facet, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.concepts:
            raise SchemaError("a concept schema needs at least one concept")
        if self.facet_dim <= 0:
            raise SchemaError(f"facet_dim must be positive, got {self.facet_dim}")
        concepts = {str(c): tuple(str(t) for t in tags) for c, tags in self.concepts.items()}
        seen: dict[str, str] = {}
        for concept, tags in concepts.items():
            if concept == ALL_FACET:
                raise SchemaError(f"'{ALL_FACET}' is reserved and cannot name a concept")
            for tag in tags:
                if tag in seen:
                    raise SchemaError(f"tag '{tag}' is in both '{seen[tag]}' and '{concept}'")
                seen[tag] = concept
        object.__setattr__(self, "concepts", concepts)
        names = list(concepts) if self.disentangled else [ALL_FACET]
        facets = tuple(Facet(n, i * self.facet_dim, self.facet_dim) for i, n in enumerate(names))
        object.__setattr__(self, "facets", facets)

    # --- facets ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """D, the full embedding dimension."""
        return self.facet_dim * len(self.facets)

    @property
    def facet_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.facets)

    def facet(self, name: str) -> Facet:
        for f in self.facets:
            if f.name == name:
                return f
        raise KeyError(f"unknown facet '{name}'; valid facets: {', '.join(self.facet_names)}")

    def facet_of_concept(self, concept: str) -> Facet:
        """The facet whose slice holds this concept's tag proxies."""
        if concept not in self.concepts:
            raise KeyError(f"unknown concept '{concept}'; valid: {', '.join(self.concepts)}")
        return self.facet(concept if self.disentangled else ALL_FACET)

    # --- tags -----------------------------------------------------------------------------
    @property
    def tags(self) -> tuple[str, ...]:
        """Every tag, concept by concept, in the order of the tag head's outputs."""
        return tuple(t for tags in self.concepts.values() for t in tags)

    @property
    def num_tags(self) -> int:
        return len(self.tags)

    def tag_index(self, tag: str) -> int:
        try:
            return self.tags.index(tag)
        except ValueError:
            raise KeyError(f"unknown tag '{tag}'") from None

    def concept_of_tag(self, tag: str) -> str:
        for concept, tags in self.concepts.items():
            if tag in tags:
                return concept
        raise KeyError(f"unknown tag '{tag}'")

    def tag_facet_index(self) -> list[int]:
        """For each tag (in ``tags`` order), the index of the facet holding its proxy."""
        order = self.facet_names
        return [
            order.index(self.facet_of_concept(c).name)
            for c, tags in self.concepts.items()
            for _ in tags
        ]

    # --- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "concepts": {c: list(t) for c, t in self.concepts.items()},
            "facet_dim": self.facet_dim,
            "disentangled": self.disentangled,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConceptSchema:
        unknown = set(d) - {"concepts", "facet_dim", "disentangled"}
        if unknown:
            raise SchemaError(f"unknown concept-schema keys: {sorted(unknown)}")
        return cls(
            concepts={c: tuple(t) for c, t in d["concepts"].items()},
            facet_dim=int(d["facet_dim"]),
            disentangled=bool(d["disentangled"]),
        )

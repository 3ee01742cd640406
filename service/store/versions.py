"""Sequence numbers, model versions and tags."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import (
    InvalidValue,
    ModelVersionConflict,
    ModelVersionNotFound,
    TagConceptConflict,
)
from service.models import ModelVersion, StoreState, Tag
from service.store.codec import check_sha256, check_text

logger = logging.getLogger(__name__)


def next_seq(session: Session) -> int:
    """Allocate the next sequence number; the lock it takes is held until commit/rollback."""
    stmt = update(StoreState).where(StoreState.id == 1).values(seq=StoreState.seq + 1)
    return int(session.execute(stmt.returning(StoreState.seq)).scalar_one())


def latest_seq(session: Session) -> int:
    """The sequence number of the last committed change (0 before any)."""
    return int(session.execute(select(StoreState.seq).where(StoreState.id == 1)).scalar_one())


# --- model versions -------------------------------------------------------------------------
def find_model_version(session: Session, *, name: str) -> ModelVersion | None:
    """The model version registered under ``name``, or None."""
    return session.execute(
        select(ModelVersion).where(ModelVersion.name == name)
    ).scalar_one_or_none()


def get_model_version(session: Session, *, model_version_id: int) -> ModelVersion:
    """The model version with this id; raises ModelVersionNotFound."""
    mv = session.get(ModelVersion, model_version_id)
    if mv is None:
        raise ModelVersionNotFound(model_version_id)
    return mv


def get_or_create_model_version(
    session: Session, *, name: str, sha256: str, dim: int, schema: Mapping[str, Any]
) -> ModelVersion:
    """Register a checkpoint, or return it if ``name`` is registered with the same content.

    Args:
        name: version string, unique.
        sha256: hex digest of the checkpoint file.
        dim: D, the full embedding dimension.
        schema: the concept schema (``ConceptSchema.to_dict()``), stored as JSON.

    Raises:
        ModelVersionConflict: ``name`` is registered with another sha256 or dimension.
    """
    check_text("model version name", name)
    sha256 = check_sha256("checkpoint sha256", sha256)
    if int(dim) <= 0:
        raise InvalidValue("dim", dim, "must be positive")
    mv = find_model_version(session, name=name)
    if mv is None:
        mv = ModelVersion(
            name=name, checkpoint_sha256=sha256, dim=int(dim), concept_schema=dict(schema)
        )
        session.add(mv)
        try:
            session.commit()
        except IntegrityError:  # registered concurrently by another process: compare to theirs
            session.rollback()
            mv = find_model_version(session, name=name)
            if mv is None:
                raise
        else:
            logger.info("registered model version %s (id %d, D=%d)", name, mv.id, mv.dim)
            return mv
    for field, stored, given in (
        ("checkpoint_sha256", mv.checkpoint_sha256, sha256),
        ("dim", mv.dim, int(dim)),
    ):
        if stored != given:
            raise ModelVersionConflict(name, field, stored, given)
    return mv


# --- tags -----------------------------------------------------------------------------------
def tag_ids(session: Session, concepts: Mapping[str, str]) -> dict[str, int]:
    """Ids of these tags, inserting new ones; checks each tag keeps its concept."""
    names = list(concepts)
    stored = {t.name: t for t in session.scalars(select(Tag).where(Tag.name.in_(names)))}
    for name in names:
        tag = stored.get(name)
        if tag is None:
            tag = Tag(name=check_text("tag", name), concept=check_text("concept", concepts[name]))
            session.add(tag)
            stored[name] = tag
        elif tag.concept != concepts[name]:
            raise TagConceptConflict(name, tag.concept, concepts[name])
    session.flush()
    return {name: stored[name].id for name in names}

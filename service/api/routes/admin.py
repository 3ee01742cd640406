"""Operator actions: write a new index snapshot now (every worker then swaps to it)."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.access import GatedRoute
from service.api.deps import IndexesDep, WriteAccess
from service.api.routes.common import ERRORS
from service.schemas import SnapshotResult

router = APIRouter(tags=["admin"], responses=ERRORS, route_class=GatedRoute)


@router.post("/admin/snapshot", response_model=SnapshotResult, dependencies=[WriteAccess])
def write_snapshot(indexes: IndexesDep) -> SnapshotResult:
    """Write an index snapshot of the whole store and serve it (needs the API key).

    Other workers pick it up at their next sync (within about a second). When another
    process is writing one at this moment, nothing is written here (``written: false``).
    """
    path = indexes.save_snapshot()
    return SnapshotResult(
        written=path is not None,
        snapshot=path.name if path is not None else None,
        tracks=len(indexes),
        mmap=indexes.mmap,
    )

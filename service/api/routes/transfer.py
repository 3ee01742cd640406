"""The whole catalogue as a Parquet file over HTTP: ``GET /admin/export`` and
``POST /admin/import`` (service/transfer; the same files as ``musicprism export | import``).

Both need the API key. An import over HTTP is bounded by ``MUSICPRISM_MAX_UPLOAD_BYTES`` like
any upload and runs inside the request (about 95 tracks/s on 2 cores,
benchmarks/results/transfer.md): for a large catalogue, ``musicprism import`` on the host.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from service.api import examples
from service.api.access import GatedRoute
from service.api.deps import CatalogDep, WriteAccess
from service.api.routes.common import ERRORS
from service.errors import InvalidValue
from service.schemas import IdMapping, ImportResult
from service.transfer import TransferError, export_catalog, import_catalog

router = APIRouter(tags=["admin"], responses=ERRORS, route_class=GatedRoute)

PARQUET = "application/vnd.apache.parquet"


def _temporary(suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix="musicprism-", suffix=suffix)
    os.close(fd)
    return Path(name)


@router.get(
    "/admin/export",
    dependencies=[WriteAccess],
    response_class=FileResponse,
    responses={200: {"content": {PARQUET: {}},
                     "description": "The catalogue file (README, 'Export and import')."}},
)
def export(
    catalog: CatalogDep,
    windows: Annotated[bool, Query(description="Include window vectors (needed to import "
                                               "the file elsewhere).")] = True,
) -> FileResponse:
    """The whole catalogue (metadata, tag scores, vectors, fingerprints) as one Parquet file,
    as ``musicprism export`` writes it (needs the API key). The ``X-Musicprism-Tracks``
    header says how many tracks it holds."""
    path = _temporary(".parquet")
    try:
        report = export_catalog(catalog, path, windows=windows, overwrite=True)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(path, media_type=PARQUET, filename="musicprism-catalogue.parquet",
                        headers={"X-Musicprism-Tracks": str(report.tracks)},
                        background=BackgroundTask(path.unlink, missing_ok=True))


@router.post("/admin/import", response_model=ImportResult, dependencies=[WriteAccess],
             responses=examples.answer(examples.IMPORT_RESULT))
def import_(
    catalog: CatalogDep,
    file: Annotated[UploadFile, File(description="A catalogue file from GET /admin/export "
                                                 "or musicprism export.")],
) -> ImportResult:
    """Add the tracks of a catalogue file, without re-embedding (needs the API key; the file
    must come from an instance serving the same model). All rows are checked before any is
    written: a bad row refuses the file (422) and nothing is imported; tracks already here
    (same audio) are skipped, so importing again adds nothing."""
    path = _temporary(".parquet")
    try:
        with open(path, "wb") as out:
            shutil.copyfileobj(file.file, out)
        try:
            report = import_catalog(catalog, path)
        except TransferError as exc:
            raise InvalidValue("file", file.filename, str(exc).replace(str(path),
                                                                    "the upload")) from None
    finally:
        path.unlink(missing_ok=True)
    if report.added:
        catalog.recordings.refresh_statistics()
    return ImportResult(rows=report.rows, added=report.added, embedded=report.embedded,
                        present=report.present,
                        ids=[IdMapping(source_id=s, track_id=t) for s, t in report.id_map])

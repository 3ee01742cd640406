"""Background ingestion: submit files as a job, read the job back (docs/operations.md "Jobs")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile
from fastapi.responses import JSONResponse

from service.api.access import GatedRoute
from service.api.deps import JobsDep, WriteAccess
from service.api.numbers import Int
from service.api.routes.common import ERRORS
from service.errors import InvalidValue
from service.jobs.queue import Upload
from service.schemas import JobPublic

router = APIRouter(tags=["jobs"], responses=ERRORS, route_class=GatedRoute)

MAX_JOB_FILES = 1_000
MAX_JOB_ID = 2**31 - 1
CallbackField = Annotated[
    str | None,
    Form(max_length=2_000, description="URL that receives the finished job, signed "
         "(Musicprism-Signature); its host must be in MUSICPRISM_WEBHOOK_HOSTS."),
]


def accepted(job: JobPublic) -> JSONResponse:
    """202 with the job and where to follow it."""
    return JSONResponse(job.model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/jobs/{job.id}"})


@router.post("/jobs", status_code=202, response_model=JobPublic, dependencies=[WriteAccess])
def submit_job(
    queue: JobsDep,
    files: Annotated[list[UploadFile], File(description="Audio files, ingested in order.")],
    callback_url: CallbackField = None,
) -> Response:
    """Ingest several files in the background: 202 with the job at once; ``GET /jobs/{id}``
    (or the callback) tells each file's track or error. The whole request is one upload, so
    MUSICPRISM_MAX_UPLOAD_BYTES bounds the batch."""
    if not 1 <= len(files) <= MAX_JOB_FILES:
        raise InvalidValue("files", len(files), f"a job holds 1 to {MAX_JOB_FILES} files")
    uploads = [Upload(file=f.file, filename=f.filename, meta={}) for f in files]
    return accepted(queue.submit(uploads, callback_url))


@router.get("/jobs/{job_id}", response_model=JobPublic, dependencies=[WriteAccess])
def get_job(
    queue: JobsDep,
    job_id: Annotated[Int, Path(ge=1, le=MAX_JOB_ID, description="A job id.")],
) -> JobPublic:
    """A job: its state, each file's track or error, and its webhook's attempts. Readable
    with the API key only (a job names the files someone uploaded)."""
    return queue.get(job_id)

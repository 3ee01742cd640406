"""Ingest, read and delete catalogue tracks."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from service.api import examples
from service.api.access import GatedRoute
from service.api.deps import JobsDep, QueriesDep, RecordingsDep, WriteAccess
from service.api.numbers import Int
from service.api.routes.common import ERRORS, TrackId, public, summary
from service.api.routes.jobs import CallbackField, accepted
from service.catalog import TrackMeta
from service.errors import InvalidValue
from service.jobs.queue import Upload
from service.models import MAX_YEAR, MIN_YEAR
from service.schemas import (
    IngestResult,
    JobPublic,
    TagTimelinePublic,
    TimelineWindow,
    TrackList,
    TrackPublic,
    TrackVectors,
)

router = APIRouter(tags=["tracks"], responses=ERRORS, route_class=GatedRoute)

MetaField = Annotated[str | None, Form(max_length=500)]
IsrcField = Annotated[
    str | None,
    Form(max_length=40, description="ISRC, e.g. USRC17607839 or US-RC1-76-07839; unique."),
]
YearField = Annotated[
    Int | None, Form(ge=MIN_YEAR, le=MAX_YEAR, description="Release year.")
]


@router.post(
    "/tracks",
    response_model=IngestResult,
    status_code=201,
    dependencies=[WriteAccess],
    responses={202: {"model": JobPublic, "description": "Accepted as a job (async=true)"}},
)
def ingest_track(
    recordings: RecordingsDep,
    jobs: JobsDep,
    queries: QueriesDep,
    response: Response,
    file: Annotated[UploadFile, File(description="Audio file (wav, flac, ogg, opus, mp3, m4a...)")],
    run_async: Annotated[
        bool,
        Query(alias="async", description="Answer 202 with a job at once; GET /jobs/{id} "
              "(or the callback) gives the track."),
    ] = False,
    callback_url: CallbackField = None,
    title: MetaField = None,
    artist: MetaField = None,
    album: MetaField = None,
    external_id: MetaField = None,
    isrc: IsrcField = None,
    year: YearField = None,
) -> IngestResult | Response:
    """Add a track; the same audio uploaded twice returns the existing track (200).

    A malformed ISRC or year is refused (422), an ISRC another track has is a conflict (409).
    With ``async=true`` the metadata is checked, the file spooled and a job answered (202).
    """
    meta = TrackMeta(
        title=title,
        artist=artist,
        album=album,
        external_id=external_id,
        source=file.filename,
        isrc=isrc,
        year=year,
    ).checked()
    if callback_url is not None and not run_async:
        raise InvalidValue("callback_url", callback_url[:100], "needs async=true")
    if run_async:
        fields = {k: v for k, v in asdict(meta).items() if k != "source" and v is not None}
        upload = Upload(file=file.file, filename=file.filename, meta=fields)
        return accepted(jobs.submit([upload], callback_url))
    data = file.file.read()
    outcome = recordings.ingest(data, meta)
    if not outcome.created:
        response.status_code = 200
    track, tags = queries.get_track(outcome.track.id)
    return IngestResult(created=outcome.created, track=public(track, tags))


@router.get("/tracks", response_model=TrackList)
def list_tracks(
    queries: QueriesDep,
    offset: Annotated[Int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[Int, Query(ge=1, le=1000)] = 100,
    isrc: Annotated[
        str | None, Query(max_length=40, description="Only the track with this ISRC.")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Only tracks whose title or artist contains this."),
    ] = None,
) -> TrackList:
    """Catalogue tracks in id order (only the one with ``isrc``, or those matching ``q``)."""
    total, tracks = queries.list_tracks(offset=offset, limit=limit, isrc=isrc, q=q)
    return TrackList(total=total, offset=offset, tracks=[summary(t) for t in tracks])


@router.get("/tracks/{track_id}", response_model=TrackPublic)
def get_track(queries: QueriesDep, track_id: TrackId) -> TrackPublic:
    """A track's metadata and predicted tags by concept."""
    track, tags = queries.get_track(track_id)
    return public(track, tags)


@router.get("/tracks/{track_id}/tags/timeline", response_model=TagTimelinePublic,
            responses=examples.answer(examples.TAG_TIMELINE))
def tag_timeline(
    queries: QueriesDep,
    track_id: TrackId,
    concept: Annotated[
        str | None, Query(max_length=100, description="Only this concept's tags.")
    ] = None,
) -> TagTimelinePublic:
    """Tag probabilities over time: one entry per stored window of the track (3 s by
    default), each with every tag's calibrated probability (those of ``concept`` only, if
    given). The mean over the windows is the track's own tag score."""
    schema = queries.schema
    if concept is not None and concept not in schema.concepts:
        raise InvalidValue("concept", concept[:100],
                           f"valid concepts: {', '.join(schema.concepts)}")
    timeline = queries.tag_timeline(track_id)
    keep = [i for i, t in enumerate(timeline.tags)
            if concept is None or schema.concept_of_tag(t) == concept]
    return TagTimelinePublic(
        track_id=track_id,
        window_seconds=timeline.window_seconds,
        hop_seconds=timeline.hop_seconds,
        windows=[TimelineWindow(start=round(i * timeline.hop_seconds, 6),
                                duration=timeline.window_seconds,
                                tags={timeline.tags[j]: round(float(row[j]), 6) for j in keep})
                 for i, row in enumerate(timeline.probabilities)],
    )


@router.get("/tracks/{track_id}/vectors", response_model=TrackVectors,
            responses=examples.answer(examples.TRACK_VECTORS))
def track_vectors(
    queries: QueriesDep,
    track_id: TrackId,
    windows: Annotated[
        bool, Query(description="Also each window's full-space vector (window i at i * hop).")
    ] = False,
) -> TrackVectors:
    """A track's embedding by the served model: the full-space vector (unit norm), its slice
    per facet, and on request the window vectors, for use outside musicprism."""
    stored = queries.windows_of(track_id)
    schema = queries.schema
    vector = stored.vector.astype(float)
    return TrackVectors(
        track_id=track_id,
        model=queries.model.version,
        dim=schema.dim,
        vector=vector.tolist(),
        facets={f.name: vector[f.slice].tolist() for f in schema.facets},
        window_seconds=stored.window_seconds,
        hop_seconds=stored.hop_seconds,
        windows=stored.windows.astype(float).tolist() if windows else None,
    )


@router.delete("/tracks/{track_id}", status_code=204, dependencies=[WriteAccess])
def delete_track(recordings: RecordingsDep, track_id: TrackId) -> Response:
    """Remove a track from the store and every index."""
    recordings.delete(track_id)
    return Response(status_code=204)

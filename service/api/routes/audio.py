"""A catalogue track's audio, streamed with byte ranges (what an <audio> element asks for)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from service.api.access import GatedRoute
from service.api.deps import QueriesDep
from service.api.ranges import RangeNotSatisfiable, content_range, parse_range
from service.api.routes.common import ERRORS, TrackId
from service.audio_store import AudioNotStored, StoredAudio

router = APIRouter(tags=["tracks"], responses=ERRORS, route_class=GatedRoute)

CHUNK_BYTES = 64 * 1024
AUDIO_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"audio/*": {}}, "description": "The whole file."},
    206: {"content": {"audio/*": {}}, "description": "The requested byte range(s)."},
    404: {"description": "Unknown track id, or no audio copy kept for it"},
    416: {"description": "No requested range overlaps the file"},
}


@router.get("/tracks/{track_id}/audio", response_class=Response, responses=AUDIO_RESPONSES)
# HEAD answers as GET without a body (errors too: no JSON to read), so it stays out of the
# schema, which promises JSON errors.
@router.head("/tracks/{track_id}/audio", response_class=Response, include_in_schema=False)
def track_audio(
    queries: QueriesDep,
    request: Request,
    track_id: TrackId,
    range_: Annotated[str | None, Header(alias="range", description="e.g. bytes=0-1023")] = None,
    if_range: Annotated[str | None, Header()] = None,
) -> Response:
    """The track's audio as ingested; supports Range (206) and HEAD (the same headers)."""
    audio, content_hash = queries.audio_of(track_id)
    etag = f'"{content_hash}"'  # the file's bytes hash to this: a strong validator
    headers = {"Accept-Ranges": "bytes", "ETag": etag}
    head = request.method == "HEAD"
    if if_range is not None and if_range.strip() != etag:
        range_ = None  # the client's copy is another representation: send it whole
    try:
        ranges = parse_range(range_, audio.size)
    except RangeNotSatisfiable as exc:
        return JSONResponse(
            {"detail": str(exc)},
            status_code=416,
            headers={**headers, "Content-Range": f"bytes */{audio.size}"},
        )
    fh = None if head else _open(audio.path, track_id)
    if ranges is None:
        return _send(fh, [(0, audio.size)], 200, audio.media_type, headers)
    if len(ranges) == 1:
        start, end = ranges[0]
        headers["Content-Range"] = content_range(start, end, audio.size)
        return _send(fh, ranges, 206, audio.media_type, headers)
    return _multipart(fh, audio, ranges, headers)


def _open(path: Path, track_id: int) -> BinaryIO:
    """Open the copy now, so that its deletion (the track deleted meanwhile) cannot cut a
    response short: an open file is read to its end."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise AudioNotStored(track_id) from None


def _send(
    fh: BinaryIO | None,
    ranges: list[tuple[int, int]],
    status: int,
    media_type: str,
    headers: dict[str, str],
) -> Response:
    """The ranges of the file in one body; only the headers when ``fh`` is None (HEAD)."""
    length = sum(end - start for start, end in ranges)
    headers = {**headers, "Content-Length": str(length)}
    if fh is None:
        return Response(status_code=status, media_type=media_type, headers=headers)
    return StreamingResponse(
        _read(fh, ranges), status_code=status, media_type=media_type, headers=headers
    )


def _multipart(
    fh: BinaryIO | None,
    audio: StoredAudio,
    ranges: list[tuple[int, int]],
    headers: dict[str, str],
) -> Response:
    """206 multipart/byteranges: one part per range, each with its own Content-Range."""
    boundary = secrets.token_hex(12)
    parts = [
        (
            f"--{boundary}\r\nContent-Type: {audio.media_type}\r\n"
            f"Content-Range: {content_range(s, e, audio.size)}\r\n\r\n"
        ).encode("latin-1")
        for s, e in ranges
    ]
    closing = f"--{boundary}--\r\n".encode("latin-1")
    length = sum(len(p) + (e - s) + 2 for p, (s, e) in zip(parts, ranges, strict=True))
    headers = {**headers, "Content-Length": str(length + len(closing))}
    media_type = f"multipart/byteranges; boundary={boundary}"
    if fh is None:
        return Response(status_code=206, media_type=media_type, headers=headers)

    def body() -> Iterator[bytes]:
        with fh:
            for part, rng in zip(parts, ranges, strict=True):
                yield part
                yield from _chunks(fh, *rng)
                yield b"\r\n"
        yield closing

    return StreamingResponse(body(), status_code=206, media_type=media_type, headers=headers)


def _read(fh: BinaryIO, ranges: list[tuple[int, int]]) -> Iterator[bytes]:
    """The bytes of ``ranges`` of the open file, in chunks; closes it at the end."""
    with fh:
        for start, end in ranges:
            yield from _chunks(fh, start, end)


def _chunks(fh: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    fh.seek(start)
    left = end - start
    while left > 0:
        chunk = fh.read(min(CHUNK_BYTES, left))
        if not chunk:
            raise OSError(f"audio copy {fh.name} is shorter than the {end} bytes it had")
        left -= len(chunk)
        yield chunk

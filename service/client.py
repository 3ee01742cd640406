"""A small typed Python client of the HTTP API, on the standard library alone.

Each method is one route and returns the route's own response model (``service.schemas``,
validated), so what a script gets is exactly what the OpenAPI schema says::

    from service.client import Client

    api = Client("http://127.0.0.1:8000")
    for r in api.similar(41, facet="mood:0.7,genre:0.3", k=5).results:
        print(r.track.title, r.score, r.facets)
    api.search(text="calm piano with strings, no vocals").reading
    api.similar_to_clip("clip.flac", start=30, duration=10, regions=True)
    api.playlist(41, 7, k=8, facet="mood", spacing=2)

Filters are keyword arguments named as the query parameters (``year_min=1970``,
``artist=["Ann", "Bob"]``, ``exclude=[3]``); a list repeats the parameter. Errors are
:class:`ApiError` with the status and the API's ``detail``; the API key (``api_key=`` or
``MUSICPRISM_API_KEY``) is sent with every request.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode
from urllib.request import Request, urlopen

from pydantic import BaseModel

from service.schemas import (
    FacetsResponse,
    ImportResult,
    IngestResult,
    JobPublic,
    PlaylistResponse,
    SearchResponse,
    SimilarResponse,
    TagsResponse,
    TagTimelinePublic,
    TrackList,
    TrackPublic,
    TrackVectors,
)

#: Where the client looks by default (``MUSICPRISM_URL`` overrides it).
DEFAULT_URL = "http://127.0.0.1:8000"

Model = TypeVar("Model", bound=BaseModel)
Params = Mapping[str, Any]
Clip = str | Path | bytes


class ApiError(RuntimeError):
    """The API answered with an error status (or could not be reached: status 0)."""

    def __init__(self, status: int, detail: str, url: str) -> None:
        self.status, self.detail, self.url = status, detail, url
        super().__init__(f"{status} from {url}: {detail}" if status else f"{url}: {detail}")


class Client:
    """The musicprism API at ``url``.

    Args:
        url: the server's base URL (default: ``MUSICPRISM_URL`` or :data:`DEFAULT_URL`).
        api_key: sent as ``X-API-Key`` (default: ``MUSICPRISM_API_KEY``, if set).
        timeout: seconds per request.
    """

    def __init__(self, url: str | None = None, *, api_key: str | None = None,
                 timeout: float = 60.0) -> None:
        self.url = (url or os.environ.get("MUSICPRISM_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("MUSICPRISM_API_KEY")
        self.timeout = timeout

    # --- similarity --------------------------------------------------------------------
    def similar(self, track_id: int, *, facet: str | None = None, k: int = 10,
                regions: bool = False, **filters: Any) -> SimilarResponse:
        """``GET /similar/{id}``: tracks like a catalogue track."""
        params = {"facet": facet, "k": k, "regions": regions or None, **filters}
        return self._get(f"/similar/{int(track_id)}", params, SimilarResponse)

    def similar_to_clip(self, clip: Clip, *, start: float | None = None,
                        duration: float | None = None, facet: str | None = None, k: int = 10,
                        identify: bool = True, regions: bool = False,
                        **filters: Any) -> SimilarResponse:
        """``POST /similar``: tracks like an audio clip (a path or the file's bytes)."""
        fields = {"start": start, "duration": duration, "facet": facet, "k": k,
                  "identify": identify, "regions": regions, **filters}
        return self._post("/similar", fields, {"file": [clip]}, SimilarResponse)

    def query(self, *, positive: Sequence[int] = (), negative: Sequence[int] = (),
              positive_clips: Sequence[Clip] = (), negative_clips: Sequence[Clip] = (),
              negative_weight: float | None = None, facet: str | None = None, k: int = 10,
              **filters: Any) -> SimilarResponse:
        """``POST /similar/query``: several seeds, positive and negative."""
        fields = {"positive": list(positive), "negative": list(negative),
                  "negative_weight": negative_weight, "facet": facet, "k": k, **filters}
        files = {"positive_clip": list(positive_clips), "negative_clip": list(negative_clips)}
        return self._post("/similar/query", fields, files, SimilarResponse)

    def playlist(self, from_track: int, to_track: int, *, k: int = 10,
                 facet: str | None = None, spacing: int = 0,
                 **filters: Any) -> PlaylistResponse:
        """``GET /playlist``: k tracks that move from one track to another."""
        params = {"from": int(from_track), "to": int(to_track), "k": k, "facet": facet,
                  "spacing": spacing or None, **filters}
        return self._get("/playlist", params, PlaylistResponse)

    def search(self, tags: Sequence[str] = (), *, text: str | None = None, k: int = 10,
               **filters: Any) -> SearchResponse:
        """``GET /search``: tracks ranked by tags, or by a free-text description."""
        params = {"tag": list(tags), "q": text, "k": k, **filters}
        return self._get("/search", params, SearchResponse)

    # --- the catalogue -----------------------------------------------------------------
    def track(self, track_id: int) -> TrackPublic:
        return self._get(f"/tracks/{int(track_id)}", {}, TrackPublic)

    def tracks(self, *, offset: int = 0, limit: int = 50, q: str | None = None,
               isrc: str | None = None) -> TrackList:
        return self._get("/tracks", {"offset": offset, "limit": limit, "q": q, "isrc": isrc},
                         TrackList)

    def timeline(self, track_id: int, *, concept: str | None = None) -> TagTimelinePublic:
        """``GET /tracks/{id}/tags/timeline``: tag probabilities window by window."""
        return self._get(f"/tracks/{int(track_id)}/tags/timeline", {"concept": concept},
                         TagTimelinePublic)

    def vectors(self, track_id: int, *, windows: bool = False) -> TrackVectors:
        """``GET /tracks/{id}/vectors``: the track's embedding, full and per facet."""
        return self._get(f"/tracks/{int(track_id)}/vectors", {"windows": windows or None},
                         TrackVectors)

    def add_track(self, audio: Clip, **metadata: Any) -> IngestResult:
        """``POST /tracks`` (needs the API key): title=, artist=, album=, year=, isrc=..."""
        return self._post("/tracks", metadata, {"file": [audio]}, IngestResult)

    def add_tracks_async(self, audio: Sequence[Clip], *,
                         callback_url: str | None = None) -> JobPublic:
        """``POST /jobs`` (needs the API key): a job that ingests the files in order;
        :meth:`job` follows it."""
        return self._post("/jobs", {"callback_url": callback_url}, {"files": list(audio)},
                          JobPublic)

    def job(self, job_id: int) -> JobPublic:
        return self._get(f"/jobs/{int(job_id)}", {}, JobPublic)

    def delete_track(self, track_id: int) -> None:
        """``DELETE /tracks/{id}`` (needs the API key)."""
        self._send("DELETE", f"/tracks/{int(track_id)}", None, {})

    def export(self, out: str | Path, *, windows: bool = True) -> int:
        """``GET /admin/export`` (needs the API key): the catalogue as a Parquet file, written
        to ``out``; returns how many tracks it holds."""
        query = query_string({"windows": windows})
        with self._open("GET", f"/admin/export?{query}", None, {}) as response:
            with open(out, "wb") as f:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
            return int(response.headers.get("X-Musicprism-Tracks", "0"))

    def import_file(self, path: str | Path) -> ImportResult:
        """``POST /admin/import`` (needs the API key): add a catalogue file's tracks (within
        the server's upload limit; ``musicprism import`` on the host for more)."""
        return self._post("/admin/import", {}, {"file": [path]}, ImportResult)

    def tags(self) -> TagsResponse:
        return self._get("/tags", {}, TagsResponse)

    def facets(self) -> FacetsResponse:
        return self._get("/facets", {}, FacetsResponse)

    # --- transport ---------------------------------------------------------------------
    def _get(self, path: str, params: Params, model: type[Model]) -> Model:
        return model.model_validate(self._json("GET", path, params))

    def _post(self, path: str, fields: Params, files: Mapping[str, list[Clip]],
              model: type[Model]) -> Model:
        body, content_type = multipart(fields, files)
        raw = self._send("POST", path, body, {"Content-Type": content_type})
        return model.model_validate(json.loads(raw))

    def _json(self, method: str, path: str, params: Params) -> Any:
        query = query_string(params)
        return json.loads(self._send(method, path + (f"?{query}" if query else ""), None, {}))

    def _send(self, method: str, path: str, body: bytes | None,
              headers: dict[str, str]) -> bytes:
        with self._open(method, path, body, headers) as response:
            return bytes(response.read())

    def _open(self, method: str, path: str, body: bytes | None,
              headers: dict[str, str]) -> Any:
        """The open response (a context manager); raises :class:`ApiError`."""
        url = self.url + path
        if self.api_key:
            headers = {**headers, "X-API-Key": self.api_key}
        request = Request(url, data=body, method=method, headers=headers)
        try:
            return urlopen(request, timeout=self.timeout)  # noqa: S310 (http only)
        except HTTPError as exc:
            raise ApiError(exc.code, _detail(exc.read()), url) from None
        except (URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(0, f"cannot reach the server ({reason})", url) from None


def _detail(raw: bytes) -> str:
    try:
        detail = json.loads(raw).get("detail")
    except (ValueError, AttributeError):
        return raw.decode("utf-8", "replace")[:500]
    return detail if isinstance(detail, str) else json.dumps(detail)


def _values(value: Any) -> list[str]:
    """A parameter's values as text (a list repeats it; None and [] leave it out)."""
    items = value if isinstance(value, list | tuple | set | frozenset) else [value]
    out = []
    for v in items:
        if v is None:
            continue
        out.append(("true" if v else "false") if isinstance(v, bool) else str(v))
    return out


def query_string(params: Params) -> str:
    """``params`` URL-encoded (lists repeated, None left out, booleans as true/false)."""
    return urlencode([(k, v) for k, value in params.items() for v in _values(value)])


def multipart(fields: Params, files: Mapping[str, Iterable[Clip]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its content type: ``fields`` as form fields (lists
    repeated, None left out), ``files`` as file parts (paths read, or bytes as they are)."""
    boundary = f"musicprism-{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        for v in _values(value):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                         f"\r\n\r\n{v}\r\n".encode())
    for name, clips in files.items():
        for i, clip in enumerate(clips):
            data, filename = ((clip, f"clip-{i}") if isinstance(clip, bytes)
                              else (Path(clip).read_bytes(), Path(clip).name))
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{quote(filename)}"\r\nContent-Type: application/octet-stream'
                "\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"

"""The catalogue file: a Parquet file that says what it holds (format, model, facets, tags).

Its header is one JSON object under the file's key/value metadata key ``musicprism``
(:class:`Header`); a reader needs nothing else to slice the vectors into facets or to name
the tag scores. One row per track, columns (:func:`arrow_schema`):

========================  ======================================  =========================
column                    type                                    meaning
========================  ======================================  =========================
source_id                 int64                                   track id where exported
content_hash              string                                  sha256 of the audio
title, artist, album,     string (null: not given)                metadata as stored
external_id, isrc, source
year                      int32 (null: not given)                 release year
duration_seconds          float64                                 decoded length
created                   timestamp[us, UTC]                      when it was ingested there
window_seconds,           float64                                 window length and start-
hop_seconds                                                       to-start distance
vector                    fixed_size_list<float32>[D]             full-space track vector
windows (optional)        list<fixed_size_list<float32>[D]>       window vectors, W >= 1
tag_scores                fixed_size_list<float64>[T]             score of tag t (header
                                                                  ``tags`` order); null:
                                                                  not scored
fingerprint_version       int16 (null: no fingerprint)            landmark parameters
fingerprint_hashes,       list<int32>                             landmark hashes and their
fingerprint_times                                                 anchor frames
========================  ======================================  =========================

The full-space vector is the concatenation of the facets' unit sub-vectors, each scaled by
1/sqrt(K) (DESIGN.md "The embedding contract"): facet ``f`` is ``vector[f.start:f.start +
f.dim] * sqrt(K)``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from layout.schema import ConceptSchema, SchemaError
from model.checkpoint import LoadedModel, code_version
from service.errors import MusicprismError

FORMAT = "musicprism-catalogue"
#: 1: the first format.
FORMAT_VERSION = 1
READABLE_VERSIONS = (1,)
HEADER_KEY = b"musicprism"

#: Columns an import needs, and what kind of Arrow type each must have.
REQUIRED = {
    "source_id": "integer",
    "content_hash": "string",
    "title": "string",
    "artist": "string",
    "album": "string",
    "external_id": "string",
    "isrc": "string",
    "year": "integer",
    "source": "string",
    "duration_seconds": "number",
    "window_seconds": "number",
    "hop_seconds": "number",
    "vector": "list of numbers",
    "windows": "list of lists of numbers",
    "tag_scores": "list of numbers",
}
#: Columns an import reads when they are there (all three or none).
FINGERPRINT = {
    "fingerprint_version": "integer",
    "fingerprint_hashes": "list of integers",
    "fingerprint_times": "list of integers",
}


class TransferError(MusicprismError, ValueError):
    """A catalogue file that cannot be imported (or written); nothing was imported."""


@dataclass(frozen=True)
class Header:
    """What a catalogue file says about itself (its ``musicprism`` metadata key).

    Attributes:
        model_version: the model version whose vectors the file holds (``LoadedModel.version``).
        checkpoint_sha256: sha256 of that checkpoint file; an import needs the same.
        concept_schema: ``ConceptSchema.to_dict()`` of that model.
        window_seconds, hop_seconds: the model's window and hop when exporting (each row
            carries its own, as stored).
        windows: whether rows carry window vectors (``--no-windows``: they do not).
        facets: ``{"name", "start", "dim"}`` per facet, in vector order (from the schema).
        tags: ``{"name", "concept"}`` per tag, in ``tag_scores`` order (from the schema).
    """

    model_version: str
    checkpoint_sha256: str
    concept_schema: dict[str, Any]
    window_seconds: float
    hop_seconds: float
    windows: bool
    dim: int = 0
    facets: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    exported: str = ""
    code_version: str = ""
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @classmethod
    def of_model(cls, model: LoadedModel, *, window_seconds: float, hop_seconds: float,
                 windows: bool) -> Header:
        schema = model.schema
        return cls(
            model_version=model.version, checkpoint_sha256=model.sha256,
            concept_schema=schema.to_dict(), window_seconds=window_seconds,
            hop_seconds=hop_seconds, windows=windows, dim=schema.dim,
            facets=[{"name": f.name, "start": f.start, "dim": f.dim} for f in schema.facets],
            tags=[{"name": t, "concept": schema.concept_of_tag(t)} for t in schema.tags],
            exported=datetime.now(UTC).isoformat(timespec="seconds"),
            code_version=code_version(),
        )

    def schema(self) -> ConceptSchema:
        """The concept schema; raises TransferError when it contradicts the facets or tags."""
        try:
            schema = ConceptSchema.from_dict(self.concept_schema)
        except (SchemaError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TransferError(f"the file's concept schema is malformed: {exc}") from exc
        tags = [{"name": t, "concept": schema.concept_of_tag(t)} for t in schema.tags]
        if self.dim != schema.dim or self.tags != tags:
            raise TransferError("the file's header contradicts itself: its dim and tags are "
                                "not those of its concept schema")
        return schema

    def to_bytes(self) -> bytes:
        # Key order is meaning: concepts in schema order give the facet and tag order.
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, where: Path) -> Header:
        """Parse and check the format; raises TransferError naming what is wrong."""
        try:
            d = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TransferError(f"{where}: its musicprism header is not JSON ({exc})") from exc
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            got = d.get("format") if isinstance(d, dict) else d
            raise TransferError(f"{where}: not a musicprism catalogue (format {got!r}, "
                                f"expected {FORMAT!r})")
        version = d.get("format_version")
        if version not in READABLE_VERSIONS:
            readable = ", ".join(map(str, READABLE_VERSIONS))
            raise TransferError(f"{where} has catalogue format version {version!r}; this "
                                f"musicprism reads version {readable}: use a matching release")
        names = set(cls.__dataclass_fields__)
        unknown, missing = set(d) - names, {n for n in names if n not in d}
        if unknown or missing:
            raise TransferError(f"{where}: malformed header (unknown keys {sorted(unknown)}, "
                                f"missing keys {sorted(missing)})")
        return cls(**d)


def read_header(path: Path) -> tuple[pq.ParquetFile, Header]:
    """Open ``path`` and read its header; raises TransferError (not Parquet, no header...)."""
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
            raise
        raise TransferError(f"{path} is not a Parquet file ({exc})") from exc
    raw = (pf.schema_arrow.metadata or {}).get(HEADER_KEY)
    if raw is None:
        raise TransferError(f"{path} is a Parquet file but not a musicprism catalogue (no "
                            f"'{HEADER_KEY.decode()}' metadata): write one with musicprism export")
    return pf, Header.from_bytes(raw, path)


def arrow_schema(header: Header) -> pa.Schema:
    """The file's Arrow schema for ``header`` (columns in the module docstring's order)."""
    d, t = header.dim, len(header.tags)
    vector = pa.list_(pa.float32(), d)
    fields = [
        pa.field("source_id", pa.int64(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        *(pa.field(n, pa.string()) for n in ("title", "artist", "album", "external_id", "isrc")),
        pa.field("year", pa.int32()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("duration_seconds", pa.float64(), nullable=False),
        pa.field("created", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("window_seconds", pa.float64(), nullable=False),
        pa.field("hop_seconds", pa.float64(), nullable=False),
        pa.field("vector", vector, nullable=False),
        *([pa.field("windows", pa.list_(vector), nullable=False)] if header.windows else []),
        pa.field("tag_scores", pa.list_(pa.float64(), t), nullable=False),
        pa.field("fingerprint_version", pa.int16()),
        pa.field("fingerprint_hashes", pa.list_(pa.int32())),
        pa.field("fingerprint_times", pa.list_(pa.int32())),
    ]
    return pa.schema(fields, metadata={HEADER_KEY: header.to_bytes()})


def _is_list(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t)
                or pa.types.is_fixed_size_list(t))


def _kind_ok(t: pa.DataType, kind: str) -> bool:
    if kind == "integer":
        return bool(pa.types.is_integer(t))
    if kind == "string":
        return bool(pa.types.is_string(t) or pa.types.is_large_string(t))
    if kind == "number":
        return bool(pa.types.is_floating(t) or pa.types.is_integer(t))
    item = kind.removeprefix("list of ")
    if not _is_list(t):
        return False
    value_type = t.value_type
    if item == "numbers":
        return bool(pa.types.is_floating(value_type))
    if item == "integers":
        return bool(pa.types.is_integer(value_type))
    return _kind_ok(value_type, "list of numbers")


def check_columns(pf: pq.ParquetFile, header: Header, path: Path) -> list[str]:
    """The columns to read; raises TransferError on a missing or mistyped column."""
    schema = pf.schema_arrow
    names = set(schema.names)
    if "windows" not in names and not header.windows:
        raise TransferError(f"{path} was exported with --no-windows; the store keeps every "
                            "track's window vectors: export again without --no-windows")
    wanted = dict(REQUIRED)
    present_fp = [n for n in FINGERPRINT if n in names]
    if present_fp:
        wanted |= FINGERPRINT
    missing = [n for n in wanted if n not in names]
    if missing:
        raise TransferError(f"{path} lacks the column(s) {', '.join(missing)}; a catalogue "
                            f"file has {', '.join(wanted)}")
    for name, kind in wanted.items():
        t = schema.field(name).type
        if not _kind_ok(t, kind):
            raise TransferError(f"{path}: column '{name}' must hold {kind}, got {t}")
    return list(wanted)

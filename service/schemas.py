"""Response and request bodies (kept apart from the ORM models in service/models.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong, in words.")


class TagScore(BaseModel):
    tag: str
    score: float = Field(description="Calibrated probability that the tag applies.")


class TrackSummary(BaseModel):
    id: int
    external_id: str | None
    title: str | None
    artist: str | None
    album: str | None
    isrc: str | None = Field(description="ISRC, upper case without hyphens.")
    year: int | None = Field(description="Release year.")
    duration: float = Field(description="Seconds.")


class TrackPublic(TrackSummary):
    source: str | None
    content_hash: str
    created: datetime
    updated: datetime = Field(description="When the track or its tag scores last changed.")
    tags: dict[str, list[TagScore]] = Field(
        description="Predicted tags by concept, most probable first."
    )


class TrackList(BaseModel):
    total: int
    offset: int
    tracks: list[TrackSummary]


class IngestResult(BaseModel):
    created: bool = Field(description="False when the same audio was already in the catalogue.")
    track: TrackPublic


class RecordingMatchInfo(BaseModel):
    offset: float = Field(description="Seconds into this track where the query clip starts.")
    aligned: int = Field(
        description="Fingerprint hashes of the clip found in this track at that offset."
    )
    share: float = Field(description="aligned / the clip's fingerprint hashes.")


class RegionInfo(BaseModel):
    start: float = Field(description="Seconds from the start of the track.")
    duration: float = Field(description="Seconds.")
    end: float = Field(description="start + duration.")


class MatchedRegionInfo(RegionInfo):
    score: float = Field(description="Mean weighted facet cosine of the aligned windows.")
    query: RegionInfo = Field(description="The stretch of the query it matches (seconds of "
                              "the uploaded file, or of the seed track).")


class SimilarResult(BaseModel):
    track: TrackSummary
    score: float = Field(description="Weighted sum of per-facet cosines (the ranking score).")
    facets: dict[str, float] = Field(description="Cosine similarity in each facet.")
    match: RecordingMatchInfo | None = Field(
        None,
        description=(
            "Set when the query clip was identified (by its audio fingerprint) as cut from "
            "this track; such tracks come first."
        ),
    )
    region: MatchedRegionInfo | None = Field(
        None, description="With regions=true: the stretch of this track that best matches "
        "the query (up to 15 s), and the stretch of the query it matches."
    )


class SeedsInfo(BaseModel):
    positive: list[int] = Field(description="Positive seed track ids.")
    negative: list[int] = Field(description="Negative seed track ids.")
    positive_clips: int = Field(description="Uploaded positive clips.")
    negative_clips: int = Field(description="Uploaded negative clips.")
    negative_weight: float
    strategy: str = Field(description="How the seeds were combined: 'average_vector'.")


class PlaylistInfo(BaseModel):
    from_track: TrackSummary = Field(description="A: where the path starts (not a step).")
    to_track: TrackSummary = Field(description="B: where the path ends (not a step).")
    spacing: int = Field(description="Positions kept between two tracks of one artist.")
    score: float = Field(description="Weighted sum of A's facet cosines to B.")
    facets: dict[str, float] = Field(description="Cosine of A to B in each facet.")


class QueryInfo(BaseModel):
    duration: float | None = Field(None, description="Seconds of query audio used.")
    track_id: int | None = None
    tags: dict[str, list[TagScore]] | None = Field(
        None, description="Predicted tags of the query clip, by concept (top 3 each)."
    )
    seeds: SeedsInfo | None = Field(None, description="The seeds of POST /similar/query.")
    playlist: PlaylistInfo | None = Field(None, description="The ends of GET /playlist.")


class SimilarResponse(BaseModel):
    facet_weights: dict[str, float]
    k: int
    query: QueryInfo
    results: list[SimilarResult]


class PlaylistStep(SimilarResult):
    t: float = Field(description="Where the step sits between A (0) and B (1): i / (k + 1).")
    from_score: float = Field(description="Weighted sum of the facet cosines to A.")
    from_facets: dict[str, float] = Field(description="Cosine to A in each facet.")
    to_score: float = Field(description="Weighted sum of the facet cosines to B.")
    to_facets: dict[str, float] = Field(description="Cosine to B in each facet.")
    previous_score: float = Field(
        description="Weighted score against the track before it (A for the first step).")
    next_score: float = Field(
        description="Weighted score against the track after it (B for the last step).")


class PlaylistResponse(BaseModel):
    facet_weights: dict[str, float]
    k: int = Field(description="Steps asked for.")
    found: int = Field(description="Steps found: fewer than k when fewer tracks qualify "
                       "(filters) or none is eligible for a step (artist spacing).")
    query: QueryInfo
    results: list[PlaylistStep] = Field(
        description="The steps from A to B in order; score and facets: against the step's "
        "target point on the path.")


class SearchResult(BaseModel):
    track: TrackSummary
    score: float = Field(
        description="Weighted mean cosine between the track's facets and the tags' proxies "
        "(a tag with a negative weight subtracts its cosine).")
    tag_scores: dict[str, float] = Field(description="Calibrated probability of each query tag.")


class ReadTermInfo(BaseModel):
    text: str = Field(description="The phrase of the text, as read (lower case).")
    tags: list[str] = Field(description="The model's tags it stands for, sharing its weight.")
    weight: float = Field(description="Signed weight: negative when the phrase was negated.")
    via: str = Field(description="'tag' (a tag of the model), 'lexicon:<group>', or "
                     "'lexicon:<group> -> [not ]<fallback>' when the model lacks the group's "
                     "tags.")


class TextReadingInfo(BaseModel):
    """How the text of ``q`` was read: its terms, and the words that did not count."""

    text: str = Field(description="The text, normalised (NFKC, lower case).")
    terms: list[ReadTermInfo]
    no_tag: list[str] = Field(description="Phrases the lexicon knows that this model has no "
                              "tag for (they did not count).")
    not_understood: list[str] = Field(description="Other words that did not count.")


class SearchResponse(BaseModel):
    tags: list[str] = Field(description="The tags searched by, in order.")
    tag_weights: dict[str, float] = Field(
        description="The signed weight of each tag (1 for each tag= parameter; a text's "
        "weights as read).")
    k: int
    reading: TextReadingInfo | None = Field(None, description="How q was read (with q only).")
    results: list[SearchResult]


class TagInfo(BaseModel):
    name: str
    concept: str
    facet: str


class FacetInfo(BaseModel):
    name: str
    dim: int
    concepts: list[str]


class FacetsResponse(BaseModel):
    facets: list[FacetInfo]
    disentangled: bool


class TagsResponse(BaseModel):
    tags: list[TagInfo]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    model: str | None = None
    tracks: int | None = None
    index: dict[str, int | str] | None = None
    worker: int | None = Field(None, description="Process id of the worker that answered.")
    mmap: bool | None = Field(
        None, description="Whether this worker serves a memory-mapped snapshot plus a delta."
    )
    snapshot: str | None = Field(
        None, description="The index snapshot this worker serves (mmap), e.g. snap-000007."
    )


class SnapshotResult(BaseModel):
    written: bool = Field(description="False when another process was writing one already.")
    snapshot: str | None = Field(description="The snapshot now live, e.g. snap-000007.")
    tracks: int = Field(description="Tracks this worker serves.")
    mmap: bool = Field(description="Whether this worker serves a memory-mapped snapshot.")


class JobItemPublic(BaseModel):
    position: int = Field(description="The file's place in the upload, from 0.")
    filename: str | None
    state: str = Field(description="queued | done | failed")
    track_id: int | None = Field(description="The track the file gave (done).")
    created: bool | None = Field(description="False when the audio was already in the catalogue.")
    error: str | None = Field(description="Why the file failed: what POST /tracks would say.")
    status: int | None = Field(description="The HTTP status POST /tracks would have answered.")


class WebhookAttemptPublic(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None = Field(description="The receiver's answer (none: no answer).")
    error: str | None
    delivered: bool


class WebhookPublic(BaseModel):
    url: str
    state: str = Field(description="none | pending | delivered | failed")
    attempts: list[WebhookAttemptPublic]


class JobPublic(BaseModel):
    id: int
    state: str = Field(description="queued | running | done | failed (a file failed)")
    created: datetime
    updated: datetime
    attempts: int = Field(description="How many times a worker took the job up.")
    error: str | None
    items: list[JobItemPublic]
    webhook: WebhookPublic | None


class TimelineWindow(BaseModel):
    start: float = Field(description="Seconds from the start of the track.")
    duration: float = Field(description="Seconds the window covers.")
    tags: dict[str, float] = Field(description="Calibrated probability of each tag.")


class TagTimelinePublic(BaseModel):
    track_id: int
    window_seconds: float
    hop_seconds: float
    windows: list[TimelineWindow]


class TrackVectors(BaseModel):
    track_id: int
    model: str = Field(description="The model version that made the vectors.")
    dim: int
    vector: list[float] = Field(description="Full-space track vector (unit norm).")
    facets: dict[str, list[float]] = Field(description="The vector's slice in each facet.")
    window_seconds: float
    hop_seconds: float
    windows: list[list[float]] | None = Field(
        None, description="With windows=true: each window's full-space vector.")


class IdMapping(BaseModel):
    source_id: int = Field(description="The track's id in the exporting instance.")
    track_id: int = Field(description="Its id here.")


class ImportResult(BaseModel):
    rows: int = Field(description="Rows in the file.")
    added: int = Field(description="New tracks.")
    embedded: int = Field(description="Tracks already here (same audio) without vectors from "
                          "the serving model, given the file's.")
    present: int = Field(description="Tracks already here with vectors: left as they are.")
    ids: list[IdMapping] = Field(description="Each row's track here.")

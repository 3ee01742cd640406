"""The store: keyword-only functions over a SQLAlchemy ``Session`` (the source of truth).

Write functions (:func:`create_track`, :func:`put_embedding`, :func:`delete_track`,
:func:`get_or_create_model_version`) commit their own transaction and roll it back on any
error, so a failed write leaves nothing behind. Writes that change what an index holds draw
a sequence number first (service/models.py), which serialises them: do the expensive work
(decoding, embedding) before the call.

Vectors are float32 little-endian bytes; reads check their size against the model version's
dimension (:class:`~service.errors.DimensionMismatch`). Id arrays are (N,) int64 and vector
arrays (N, D) float32 C-contiguous, as the index layer takes them.
"""

from service.store.codec import (
    artist_key,
    check_isrc,
    check_year,
    decode_vectors,
    encode_vectors,
)
from service.store.fingerprints import (
    count_hashes_between,
    fingerprint_extent,
    fingerprint_version,
    fingerprints_of,
    lookup_hashes,
    put_fingerprint,
    refresh_statistics,
)
from service.store.queries import (
    artist_keys,
    count_tracks,
    find_track_by_external_id,
    find_track_by_hash,
    find_track_by_isrc,
    get_track,
    list_tracks,
    tag_scores_by_concept,
    tag_scores_for,
    track_ids_by_artist,
    track_ids_matching,
    track_ids_with_tag,
    tracks_by_ids,
)
from service.store.vectors import (
    Changes,
    StoredEmbedding,
    changes_since,
    events_since,
    get_embedding,
    get_vector,
    get_vectors,
    iter_embedded_tracks,
    iter_embeddings,
    load_embeddings,
)
from service.store.versions import (
    find_model_version,
    get_model_version,
    get_or_create_model_version,
    latest_seq,
)
from service.store.writes import EmbeddingRecord, create_track, delete_track, put_embedding

__all__ = [
    "Changes",
    "EmbeddingRecord",
    "StoredEmbedding",
    "artist_key",
    "artist_keys",
    "changes_since",
    "check_isrc",
    "check_year",
    "count_tracks",
    "create_track",
    "decode_vectors",
    "delete_track",
    "encode_vectors",
    "events_since",
    "find_model_version",
    "find_track_by_external_id",
    "find_track_by_hash",
    "find_track_by_isrc",
    "count_hashes_between",
    "fingerprint_extent",
    "fingerprint_version",
    "fingerprints_of",
    "get_embedding",
    "get_model_version",
    "get_or_create_model_version",
    "get_track",
    "get_vector",
    "get_vectors",
    "iter_embedded_tracks",
    "iter_embeddings",
    "latest_seq",
    "list_tracks",
    "load_embeddings",
    "lookup_hashes",
    "tag_scores_by_concept",
    "tag_scores_for",
    "track_ids_by_artist",
    "track_ids_matching",
    "track_ids_with_tag",
    "put_embedding",
    "put_fingerprint",
    "refresh_statistics",
    "tracks_by_ids",
]

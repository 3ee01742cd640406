"""The catalogue: the model, the SQL store and the indexes, and what the service does with them.

:class:`Catalog` only composes (and constructing it does no I/O; :meth:`Catalog.open` does):

- :mod:`service.catalog.lifecycle` (``catalog.indexes``): the served index and how it
  follows the store (open, rebuild, sync, reload, compact);
- :mod:`service.catalog.recordings` (``catalog.recordings``): audio in (decode, embed,
  fingerprint, identify) and tracks added or removed;
- :mod:`service.catalog.queries` (``catalog.queries``): similar tracks, tag search, rows;
- :mod:`service.catalog.playlists` (``catalog.playlists``): paths from one track to another.

Its consistency rules: the store is the source of truth, and a track is committed there
before it reaches the indexes; the indexes are derived, loaded from a snapshot that records
the store change it reflects and caught up by replaying later events; queries first catch up
with events written by other processes (other workers, the command line).
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from index import SnapshotStore
from layout.schema import ConceptSchema
from model.checkpoint import LoadedModel
from service.audio_store import AudioStore
from service.catalog.binding import StoreBinding
from service.catalog.config import CatalogConfig
from service.catalog.filters import NO_FILTER, TAG_FILTER_THRESHOLD, TrackFilter
from service.catalog.lifecycle import IndexLifecycle
from service.catalog.playlists import PathStep, Playlist, Playlists
from service.catalog.queries import Hit, Queries
from service.catalog.recordings import IngestOutcome, Recordings, TrackMeta

__all__ = [
    "NO_FILTER",
    "TAG_FILTER_THRESHOLD",
    "TrackFilter",
    "Catalog",
    "CatalogConfig",
    "Hit",
    "IndexLifecycle",
    "IngestOutcome",
    "PathStep",
    "Playlist",
    "Playlists",
    "Queries",
    "Recordings",
    "StoreBinding",
    "TrackMeta",
]


class Catalog:
    """Model + store + indexes, and the three parts that use them.

    Args:
        model: the loaded checkpoint that embeds audio and defines the facets.
        sessions: a SQLAlchemy session factory bound to the store.
        config: see :class:`CatalogConfig` (``CatalogConfig.from_settings``).
    """

    def __init__(self, model: LoadedModel, sessions: sessionmaker[Session],
                 config: CatalogConfig) -> None:
        self.model = model
        self.config = config
        self.binding = StoreBinding(sessions, model)
        snapshots = SnapshotStore(config.index_dir / model.version, model.schema,
                                  config.index_factory, model.version)
        self.indexes = IndexLifecycle(self.binding, snapshots, config)
        audio = AudioStore(config.audio_dir) if config.audio_dir is not None else None
        self.recordings = Recordings(model, self.binding, self.indexes, config, audio)
        self.queries = Queries(model, self.binding, self.indexes, audio)
        self.playlists = Playlists(self.queries)

    @property
    def schema(self) -> ConceptSchema:
        return self.model.schema

    def open(self, *, mmap: bool | None = None) -> str:
        """Register the model version in the store, then load (or rebuild) the indexes.
        Returns what was done to the indexes."""
        self.binding.register()
        return self.indexes.open(mmap=mmap)

    def close(self) -> None:
        """Release the store's connections."""
        self.binding.close()

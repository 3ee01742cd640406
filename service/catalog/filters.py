"""Which tracks a query may return: metadata, tag and exclusion filters, checked once.

A :class:`TrackFilter` is a plain value built by the routes (service/api/filters.py) and
read by :class:`~service.catalog.queries.Queries`, which turns it into the id sets that
FAISS's id selectors take, so k results come back whenever k tracks qualify.

Every condition given must hold (AND between parameters); the values of one repeated
parameter are alternatives (``artist=a&artist=b``: by a or by b), except tags, which
combine as ``tag_mode`` says. A track without the field (no year, no album...) fails a
filter on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from service.errors import InvalidValue

TagMode = Literal["all", "any"]
TAG_MODES: tuple[TagMode, ...] = ("all", "any")
#: A track carries a tag (for tag filters) when its predicted probability is above this.
TAG_FILTER_THRESHOLD = 0.5


@dataclass(frozen=True)
class TrackFilter:
    """Filters on the tracks a query may return (all optional; the default lets all pass).

    Attributes:
        exclude_ids: these tracks never come back.
        exclude_artist: nor those by this artist (matched as ``store.artist_key``).
        artists: only tracks by one of these artists (matched as ``store.artist_key``).
        albums: only tracks on one of these albums (exact text).
        isrcs: only tracks with one of these ISRCs (any accepted spelling).
        year_min, year_max: only tracks released in this range of years, inclusive.
        duration_min, duration_max: only tracks this long, in seconds, inclusive.
        tags: only tracks predicted with these tags: all of them (``tag_mode="all"``) or at
            least one (``"any"``), a tag counting when its score is above ``tag_threshold``.

    Raises:
        InvalidValue: a range whose minimum is above its maximum, an unknown tag mode or a
            threshold outside [0, 1].
    """

    exclude_ids: tuple[int, ...] = ()
    exclude_artist: str | None = None
    artists: tuple[str, ...] = ()
    albums: tuple[str, ...] = ()
    isrcs: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    duration_min: float | None = None
    duration_max: float | None = None
    tags: tuple[str, ...] = ()
    tag_mode: TagMode = "all"
    tag_threshold: float = TAG_FILTER_THRESHOLD

    def __post_init__(self) -> None:
        _check_range("year", self.year_min, self.year_max)
        _check_range("duration", self.duration_min, self.duration_max)
        if self.tag_mode not in TAG_MODES:
            raise InvalidValue("tag_mode", self.tag_mode, f"expected one of {', '.join(TAG_MODES)}")
        if not 0.0 <= self.tag_threshold <= 1.0:
            raise InvalidValue("tag_threshold", self.tag_threshold, "expected a number in [0, 1]")

    @property
    def on_metadata(self) -> bool:
        """Whether any filter reads the track rows' metadata (artist, album, ISRC, year,
        duration); exclusions are not counted."""
        return bool(self.artists or self.albums or self.isrcs) or any(
            v is not None
            for v in (self.year_min, self.year_max, self.duration_min, self.duration_max)
        )

    def excluding(self, *track_ids: int) -> TrackFilter:
        """The same filter with ``track_ids`` excluded too."""
        return replace(self, exclude_ids=(*self.exclude_ids, *track_ids))


def _check_range(name: str, low: float | None, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise InvalidValue(f"{name}_max", high, f"is below {name}_min {low}")


NO_FILTER = TrackFilter()


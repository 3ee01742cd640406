"""Typed errors of the service layer. Each carries the offending value(s) as attributes.

One HTTP handler (service/app.py) maps these to status codes; the message of each is the
``detail`` the client sees, so keep them exact and free of internals.
"""

from __future__ import annotations

from collections.abc import Iterable


class MusicprismError(Exception):
    """Base class of every error musicprism raises on purpose."""


class TrackNotFound(MusicprismError, LookupError):
    """No track has this id."""

    def __init__(self, track_id: int) -> None:
        self.track_id = track_id
        super().__init__(f"track {track_id} not found")


class JobNotFound(MusicprismError, LookupError):
    """No job has this id."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} not found")


class EmbeddingNotFound(MusicprismError, LookupError):
    """The track exists but has no embedding from this model version."""

    def __init__(self, track_id: int, model_version_id: int) -> None:
        self.track_id = track_id
        self.model_version_id = model_version_id
        super().__init__(f"track {track_id} has no embedding for model version {model_version_id}")


class ModelVersionNotFound(MusicprismError, LookupError):
    """No model version has this id (or name)."""

    def __init__(self, model_version: int | str) -> None:
        self.model_version = model_version
        super().__init__(f"model version {model_version!r} not found")


class ModelVersionConflict(MusicprismError, ValueError):
    """A model version name is already registered for a different checkpoint or dimension."""

    def __init__(self, name: str, field: str, stored: object, given: object) -> None:
        self.name = name
        self.field = field
        self.stored = stored
        self.given = given
        super().__init__(
            f"model version '{name}' is registered with {field}={stored!r}, got {given!r}"
        )


class ExternalIdConflict(MusicprismError, ValueError):
    """Another track (with different audio) already uses this external id."""

    def __init__(self, external_id: str, track_id: int) -> None:
        self.external_id = external_id
        self.track_id = track_id
        super().__init__(f"external id '{external_id}' is already used by track {track_id}")


class IsrcConflict(MusicprismError, ValueError):
    """Another track (with different audio) already has this ISRC."""

    def __init__(self, isrc: str, track_id: int) -> None:
        self.isrc = isrc
        self.track_id = track_id
        super().__init__(f"ISRC '{isrc}' is already used by track {track_id}")


class TagConceptConflict(MusicprismError, ValueError):
    """A tag is stored under one concept and was given under another."""

    def __init__(self, tag: str, stored: str, given: str) -> None:
        self.tag = tag
        self.stored = stored
        self.given = given
        super().__init__(f"tag '{tag}' belongs to concept '{stored}', got '{given}'")


class UnknownTag(MusicprismError, KeyError):
    """A tag name that is not among the valid ones."""

    def __init__(self, tag: str, valid: Iterable[str]) -> None:
        self.tag = tag
        self.valid = sorted(valid)
        super().__init__(f"unknown tag '{tag}'; valid tags: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnknownParameter(MusicprismError, ValueError):
    """Request parameters that the route does not take; names the ones it does."""

    def __init__(self, names: Iterable[str], valid: Iterable[str], *, where: str) -> None:
        self.names = list(names)
        self.valid = list(valid)
        self.where = where
        # The names come from the request: a few, each cut short, are enough to say which.
        shown = [n if len(n) <= 40 else n[:40] + "..." for n in self.names[:5]]
        given = ", ".join(f"'{n}'" for n in shown)
        if len(self.names) > len(shown):
            given += f" (and {len(self.names) - len(shown)} more)"
        plural = "s" if len(self.names) > 1 else ""
        takes = (
            f"valid {where}s: {', '.join(self.valid)}" if self.valid
            else f"this route takes no {where}s"
        )
        super().__init__(f"unknown {where}{plural} {given}; {takes}")


class RepeatedParameter(MusicprismError, ValueError):
    """A parameter that takes one value, given several times."""

    def __init__(self, name: str, times: int, *, where: str) -> None:
        self.name = name
        self.times = times
        self.where = where
        super().__init__(f"{where} '{name}' is given {times} times; it takes one value")


class DimensionMismatch(MusicprismError, ValueError):
    """A vector (or a stored blob) whose shape is not what the model version says."""

    def __init__(self, what: str, expected: object, actual: object) -> None:
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(f"{what}: expected shape {expected}, got {actual}")


class InvalidValue(MusicprismError, ValueError):
    """A field whose value is malformed (non-finite vector, bad hash, negative duration...)."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field} {value!r}: {reason}")


class NotReady(MusicprismError, RuntimeError):
    """The service is still loading its model, store or indexes."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)

"""Ingest a folder of audio: recursive, resumable, with a progress bar and a report of what
was skipped and why (STYLE.md anti-pattern 3: never skip silently)."""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from tqdm import tqdm

from layout.numbers import NumberSyntaxError, parse_int
from service.catalog import Catalog, TrackMeta
from service.catalog.recordings import Analysis, IngestOutcome, IngestPlan, Recordings
from service.errors import InvalidValue
from service.ingest_engines import EngineSpec, Job, open_engine

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff"}
META_COLUMNS = ("title", "artist", "album", "external_id", "isrc")


class IngestPathError(ValueError):
    """A folder or metadata path outside the allowed ingest root."""

    def __init__(self, path: Path, root: Path) -> None:
        super().__init__(f"'{path}' is outside the ingest root '{root}'")
        self.path, self.root = path, root


@dataclass
class IngestReport:
    added: int = 0
    reembedded: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        reasons = Counter(reason.split(":")[0] for _, reason in self.skipped)
        parts = [
            f"{self.added} added",
            f"{self.duplicates} already in the catalogue",
            f"{len(self.skipped)} skipped",
        ]
        if self.reembedded:
            parts.insert(1, f"{self.reembedded} re-embedded with the current model")
        detail = ", ".join(
            f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))
        )
        return "; ".join(parts) + (f" ({detail})" if detail else "")


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_root(folder: Path, ingest_root: Path | None) -> Path:
    """The resolved folder, refused when it lies outside ``ingest_root``."""
    resolved = folder.resolve()
    if ingest_root is not None and not _inside(resolved, ingest_root.resolve()):
        raise IngestPathError(folder, ingest_root)
    if not resolved.is_dir():
        raise NotADirectoryError(f"'{folder}' is not a folder")
    return resolved


OUTSIDE = "outside the ingest root: a link leads out of it"


def _resolved(path: Path) -> tuple[Path | None, str | None]:
    """``path`` with every link followed, or None and why it cannot be (a dangling link or
    a link loop: reported, never a crash of the whole run)."""
    try:
        return path.resolve(strict=True), None
    except FileNotFoundError:
        return None, "broken link: it leads to a missing file"
    except (RuntimeError, OSError):  # a loop: RuntimeError up to Python 3.12, OSError after
        return None, "broken link: a link loop"


def discover(root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Audio files under ``root`` (sorted), and what was left out. Links are never followed
    out of ``root``: a link to a file or a folder outside it is left out and reported, so
    ingest never reads outside the folder it was given. Links to folders inside it are not
    walked (their files are reached by their own path), which also makes loops harmless."""
    files, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in dirnames:
            path = Path(dirpath) / name
            if path.is_symlink():
                target, why = _resolved(path)
                if target is None or not _inside(target, root):
                    skipped.append((str(path), why or OUTSIDE))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            target, why = _resolved(path)
            if target is None or not _inside(target, root):
                skipped.append((str(path), why or OUTSIDE))
                continue
            files.append(path)
    return files, skipped


def read_metadata(csv_path: Path, root: Path) -> dict[Path, TrackMeta]:
    """A CSV with a ``path`` column (relative to ``root``) and any of title, artist, album,
    external_id, isrc, year. A malformed ISRC or year stops the run before anything is
    ingested, naming the CSV line (InvalidMetadata)."""
    out: dict[Path, TrackMeta] = {}
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise ValueError(f"metadata CSV '{csv_path.name}' needs a 'path' column")
        for row in reader:
            path = (root / row["path"]).resolve()
            if not _inside(path, root):
                raise IngestPathError(Path(row["path"]), root)
            out[path] = _row_meta(row, csv_path, reader.line_num)
    return out


class InvalidMetadata(ValueError):
    """A metadata CSV row whose ISRC or year is malformed."""

    def __init__(self, csv_path: Path, line: int, reason: str) -> None:
        super().__init__(f"metadata CSV '{csv_path.name}' line {line}: {reason}")
        self.line = line


def _row_meta(row: dict[str, str], csv_path: Path, line: int) -> TrackMeta:
    values: dict[str, Any] = {c: (row.get(c) or None) for c in META_COLUMNS}
    year = (row.get("year") or "").strip()
    try:
        values["year"] = parse_int(year) if year else None
        return TrackMeta(**values).checked()
    except NumberSyntaxError as exc:
        raise InvalidMetadata(csv_path, line, f"year {exc}") from None
    except InvalidValue as exc:
        raise InvalidMetadata(csv_path, line, str(exc)) from None


IN_PROCESS = EngineSpec()


def ingest_folder(
    catalog: Catalog,
    folder: Path,
    *,
    metadata: Path | None = None,
    ingest_root: Path | None = None,
    progress: bool = True,
    engine: EngineSpec = IN_PROCESS,
) -> IngestReport:
    """Ingest every audio file under ``folder``. Safe to re-run after an interruption:
    tracks already stored (same content hash) are counted as duplicates, not re-embedded.

    Each file is planned here (its content hash, what the store already has), analysed
    (decoded, embedded, fingerprinted) by ``engine`` (service/ingest_engines.py: here, in
    worker processes, or on a Ray cluster), and committed here, one file at a time in the
    order analyses finish: the store and the index are written from one place whatever the
    engine, and a file is only ever added once (by content hash).
    """
    root = check_root(folder, ingest_root)
    meta = read_metadata(metadata, root) if metadata else {}
    files, skipped = discover(root)
    report = IngestReport(skipped=list(skipped))
    with tqdm(total=len(files), desc="ingest", unit="track", disable=not progress) as bar:
        loop = _Loop(catalog.recordings, report, bar)
        with open_engine(engine, catalog.recordings.analyser) as analyses:
            for result in analyses(loop.jobs(_infos(files, meta, root))):
                loop.finish(*result)
    return report


def _infos(files: list[Path], meta: dict[Path, TrackMeta], root: Path
           ) -> Iterator[tuple[Path, TrackMeta]]:
    for path in files:
        info = meta.get(path.resolve()) or TrackMeta(title=path.stem)
        info.source = str(path.relative_to(root))
        yield path, info


class _Loop:
    """Plans, counts and commits for :func:`ingest_folder`, whichever engine analyses."""

    def __init__(self, recordings: Recordings, report: IngestReport, bar: tqdm) -> None:
        self.recordings, self.report, self.bar = recordings, report, bar

    def jobs(self, infos: Iterable[tuple[Path, TrackMeta]]) -> Iterator[Job]:
        """What needs analysing; files already stored are counted on the way."""
        for path, info in infos:
            plan = self.recordings.plan(path, info)
            if isinstance(plan, IngestOutcome):
                self.count(plan)
                self.recordings.keep_copy(path, plan.track.content_hash)
                continue
            yield path, plan.needs, (plan, path)

    def finish(self, tag: object, analysis: Analysis | None, error: str | None) -> None:
        """Commit one analysis, or report why its file was refused."""
        plan, path = cast(tuple[IngestPlan, Path], tag)
        if analysis is None:
            self.recordings.count_failure(str(error).split(":")[0])
            self.refused(str(plan.meta.source), str(error))
            return
        self.count(self.recordings.commit(plan, analysis))
        self.recordings.keep_copy(path, plan.content_hash)

    def count(self, outcome: IngestOutcome) -> None:
        if outcome.created:
            self.report.added += 1
        elif outcome.reembedded:
            self.report.reembedded += 1
        else:
            self.report.duplicates += 1
        self.bar.update()

    def refused(self, source: str, why: str) -> None:
        self.report.skipped.append((source, why))
        log.warning("skipped %s: %s", source, why)
        self.bar.update()

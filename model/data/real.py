"""Real recorded music from Debian's game-music packages, in the generic manifest format.

For each package: ``apt-get download`` the ``.deb`` into a cache (no root, no install),
unpack it with ``dpkg-deb -x``, keep its music (:mod:`model.data.real_rules`: by default the
audio files under a directory named ``music``, only those, since game packages also ship
sound effects; per-package rules for music inside ``.pk3``/``.zip`` archives, songs made of
stems, extension-less files, sped-up duplicates), and write
``<out>/<package>/`` with ``audio/...``, ``copyright`` (the package's), ``manifest.csv``
(generic format, tags empty: every track is unlabelled) and ``card.json`` (with
``left_out``: what was skipped, by reason, e.g. tracker modules we cannot decode). A package whose
``manifest.csv`` exists is skipped, so an interrupted run resumes. ``<out>/manifest.csv``
and ``<out>/card.json`` cover every finished package.

Manifest columns: ``path, tags, track_id, duration, title, artist, album, licence,
file_licence, package, version, source_path, sample_rate, channels``. The title and artist
come from the file's Vorbis/Opus comments (soundfile, then PyAV), else the game's own files
beside it (Warzone 2100 ``album.json``, see also :func:`model.data.real_rules.sidecar_meta`),
else the per-file ``Copyright`` holder of a DEP-5 copyright file (artist only), else the
file name. ``album`` is the package name; ``licence`` is the package's from its
``copyright`` file (see :func:`package_licence`); ``file_licence`` the file's own (its tags,
else its DEP-5 paragraph).

Load the result with a model's schema:
``load_manifest(out / "manifest.csv", schema=schema)`` (there is no ``concepts.json``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import av
import soundfile as sf

from model.data.base import DatasetError
from model.data.generic_csv import MANIFEST_NAME, write_manifest
from model.data.real_rules import (
    AUDIO_EXTENSIONS,
    SKIP_UNREADABLE,
    Selected,
    Selection,
    dep5_file,
    rule_for,
    select_music,
)

logger = logging.getLogger(__name__)

DEFAULT_PACKAGES: tuple[str, ...] = (
    "wesnoth-1.16-music", "warzone2100-music", "colobot-common-sounds", "singularity-music",
)
#: Every Debian (bookworm) package with free game music this loader knows, about 500 tracks.
REAL_PACKAGES: tuple[str, ...] = DEFAULT_PACKAGES + (
    "nexuiz-music", "ufoai-music", "0ad-data", "naev-data", "widelands-data",
    "supertuxkart-data", "hedgewars-data", "freedroidrpg-data", "megaglest-data", "flare-game",
    "fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid", "openclonk-data",
    "fillets-ng-data", "hyperrogue-music", "asc-music", "frozen-bubble-data",
    "extremetuxracer-data", "lincity-ng-data",
)
COLUMNS = ("path", "tags", "track_id", "duration", "title", "artist", "album", "licence",
           "file_licence", "package", "version", "source_path", "sample_rate", "channels")


class RealFetchError(DatasetError):
    """Fetching or unpacking a package failed."""


class ToolUnavailableError(RealFetchError):
    """``apt-get`` or ``dpkg-deb`` is not on this machine."""


class PackageNotFoundError(RealFetchError):
    """The package is not known to apt here."""

    def __init__(self, package: str, detail: str) -> None:
        self.package = package
        super().__init__(f"apt does not know package '{package}': {detail}")


@dataclass(frozen=True)
class PackageSummary:
    """What one package contributed."""

    package: str
    version: str
    licence: str
    tracks: int
    seconds: float
    bytes: int
    skipped: bool = False
    left_out: dict[str, int] = field(default_factory=dict)


def fetch_real(
    out_dir: Path,
    packages: tuple[str, ...] | list[str] = DEFAULT_PACKAGES,
    *,
    cache_dir: Path | None = None,
    apt_get: str = "apt-get",
) -> list[PackageSummary]:
    """Download, unpack and catalogue ``packages`` into ``out_dir`` (resumable).

    Args:
        out_dir: e.g. ``<data-dir>/datasets/real``.
        packages: Debian binary package names.
        cache_dir: where ``.deb`` files are kept; default ``<out_dir>/.debs``. A
            ``<package>_*.deb`` already there is used without downloading.
        apt_get: the apt-get executable.

    Returns:
        One summary per package, in order.

    Raises:
        ToolUnavailableError, PackageNotFoundError, RealFetchError.
    """
    out_dir = Path(out_dir)
    cache = Path(cache_dir) if cache_dir is not None else out_dir / ".debs"
    cache.mkdir(parents=True, exist_ok=True)
    summaries = []
    for package in packages:
        target = out_dir / package
        if (target / MANIFEST_NAME).is_file():
            logger.info("%s: already unpacked, skipping", package)
            summaries.append(_read_summary(target))
            continue
        deb = cached_deb(cache, package) or download_deb(package, cache, apt_get=apt_get)
        summaries.append(build_package(deb, target))
    write_combined(out_dir)
    return summaries


def cached_deb(cache: Path, package: str) -> Path | None:
    """The newest ``<package>_*.deb`` in ``cache``, if any."""
    found = sorted(Path(cache).glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def download_deb(package: str, cache: Path, *, apt_get: str = "apt-get") -> Path:
    """``apt-get download <package>`` into ``cache``; returns the ``.deb`` path."""
    exe = shutil.which(apt_get)
    if exe is None:
        raise ToolUnavailableError(f"'{apt_get}' not found: real recordings need Debian's apt")
    logger.info("%s: apt-get download", package)
    proc = subprocess.run([exe, "download", package], cwd=cache, capture_output=True,
                          text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        err = proc.stderr.strip()
        if "Unable to locate package" in err or "has no installation candidate" in err:
            raise PackageNotFoundError(package, err.splitlines()[-1] if err else "")
        raise RealFetchError(f"apt-get download {package} failed ({proc.returncode}): "
                             f"{err[-2000:]}")
    deb = cached_deb(cache, package)
    if deb is None:
        raise RealFetchError(f"apt-get download {package} left no {package}_*.deb in {cache}")
    return deb


def build_package(deb: Path, target: Path) -> PackageSummary:
    """Unpack ``deb`` and write ``target`` (audio, copyright, manifest, card).

    Works in ``<target>.partial`` and renames it at the end, so ``target`` is either
    complete or absent.
    """
    package, version = _control_fields(deb)
    work = target.with_name(target.name + ".partial")
    if work.exists():
        shutil.rmtree(work)
    tree = work / "unpacked"
    tree.mkdir(parents=True)
    _run(["dpkg-deb", "-x", str(deb), str(tree)])
    copyright_file = tree / "usr/share/doc" / package / "copyright"
    licence = package_licence(copyright_file)
    if copyright_file.is_file():
        shutil.copyfile(copyright_file, work / "copyright")
    selection = select_music(tree, rule_for(package), work / "extracted")
    if not selection.tracks:
        raise RealFetchError(f"package {package} holds no music files "
                             f"({', '.join(sorted(AUDIO_EXTENSIONS))}); left out: "
                             f"{ {k: len(v) for k, v in selection.skipped.items()} }")
    dep5 = copyright_file.read_text("utf-8", "replace") if copyright_file.is_file() else ""
    rows = _catalogue(selection, work, package, version, licence, dep5)
    shutil.rmtree(tree)
    shutil.rmtree(work / "extracted", ignore_errors=True)
    write_manifest(work / MANIFEST_NAME, rows)
    summary = PackageSummary(
        package=package, version=version, licence=licence, tracks=len(rows),
        seconds=round(sum(float(r["duration"] or 0) for r in rows), 3),
        bytes=sum((work / r["path"]).stat().st_size for r in rows),
        left_out={k: len(v) for k, v in selection.skipped.items()},
    )
    card = {**asdict(summary), "source": f"Debian package {package} {version}",
            "deb": deb.name, "copyright": "copyright", "columns": list(COLUMNS),
            "left_out_files": selection.skipped}
    (work / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    work.rename(target)
    logger.info("%s: %d tracks, %.1f min, left out %s", package, summary.tracks,
                summary.seconds / 60, summary.left_out or "nothing")
    return summary


def _catalogue(selection: Selection, work: Path, package: str, version: str, licence: str,
               dep5: str) -> list[dict[str, Any]]:
    """Rows for the selected tracks, moving each into ``work/audio``; unreadable files are
    added to ``selection.skipped``."""
    base = PurePosixPath(os.path.commonpath([t.logical.parent.as_posix()
                                             for t in selection.tracks]))
    rows = []
    for t in selection.tracks:
        inner = t.logical.relative_to(base)
        row = _row(t, inner, package, version, licence, dep5)
        if not row["duration"]:
            selection.skip(SKIP_UNREADABLE, t.source_path)
            continue
        (work / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(t.path, work / row["path"])
        rows.append(row)
    return rows


def write_combined(out_dir: Path) -> int:
    """Write ``<out_dir>/manifest.csv`` and ``card.json`` over every finished package."""
    import csv

    rows: list[dict[str, Any]] = []
    cards = []
    for pkg_dir in sorted(p for p in Path(out_dir).iterdir() if (p / MANIFEST_NAME).is_file()):
        with (pkg_dir / MANIFEST_NAME).open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                rows.append({**r, "path": f"{pkg_dir.name}/{r['path']}"})
        cards.append(json.loads((pkg_dir / "card.json").read_text(encoding="utf-8")))
    write_manifest(Path(out_dir) / MANIFEST_NAME, rows)
    total = {
        "name": "real", "source": "Debian game-music packages (free licences)",
        "tracks": len(rows), "hours": round(sum(c["seconds"] for c in cards) / 3600, 3),
        "bytes": sum(c["bytes"] for c in cards), "labelled": 0, "packages": cards,
    }
    (Path(out_dir) / "card.json").write_text(json.dumps(total, indent=2) + "\n", "utf-8")
    return len(rows)


# --- helpers ------------------------------------------------------------------------------
def _run(cmd: list[str]) -> str:
    if shutil.which(cmd[0]) is None:
        raise ToolUnavailableError(f"'{cmd[0]}' not found: real recordings need Debian's dpkg")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RealFetchError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def _control_fields(deb: Path) -> tuple[str, str]:
    out = _run(["dpkg-deb", "-f", str(deb), "Package", "Version"])
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    if "Package" not in fields:
        raise RealFetchError(f"{deb}: no Package field in its control file")
    return fields["Package"], fields.get("Version", "")


def _read_summary(target: Path) -> PackageSummary:
    card = json.loads((target / "card.json").read_text(encoding="utf-8"))
    fields = {k: card[k] for k in ("package", "version", "licence", "tracks", "seconds", "bytes")}
    return PackageSummary(**fields, skipped=True, left_out=card.get("left_out", {}))


def _row(track: Selected, inner: PurePosixPath, package: str, version: str, licence: str,
         dep5: str) -> dict[str, Any]:
    tags = file_tags(track.path)
    sidecar = {**_album_json_entry(track.path), **track.meta}
    per_file = dep5_file(dep5, track.source_path) if dep5 else {}
    title = (tags.get("title") or sidecar.get("title")
             or PurePosixPath(track.source_path.rstrip("/]").split("/")[-1]).stem.replace(
                 "_", " "))
    if track.source_path.endswith("]"):  # a stem mix: name it after its song folder
        title = tags.get("title") or sidecar.get("title") or inner.stem
    artist = (tags.get("artist") or sidecar.get("artist") or sidecar.get("author")
              or per_file.get("holder", ""))
    return {
        "path": f"audio/{inner.as_posix()}", "tags": "",
        "track_id": f"{package}/{inner.with_suffix('').as_posix()}",
        "duration": tags.get("duration", ""), "title": title, "artist": artist,
        "album": package, "licence": licence,
        "file_licence": tags.get("license") or per_file.get("licence", ""), "package": package,
        "version": version, "source_path": track.source_path,
        "sample_rate": tags.get("sample_rate", ""), "channels": tags.get("channels", ""),
    }


def file_tags(path: Path) -> dict[str, str]:
    """Duration, rate, channels and lower-cased comment tags of an audio file.

    Uses soundfile, then PyAV if soundfile cannot open the file; ``{}`` if neither can.
    """
    try:
        with sf.SoundFile(str(path)) as f:
            meta = {k.lower(): str(v) for k, v in f.copy_metadata().items()}
            return {**meta, "duration": f"{f.frames / f.samplerate:.3f}",
                    "sample_rate": str(f.samplerate), "channels": str(f.channels)}
    except (sf.LibsndfileError, RuntimeError):
        pass
    try:
        with av.open(str(path)) as c:
            stream = c.streams.audio[0]
            meta = {k.lower(): str(v) for k, v in {**c.metadata, **stream.metadata}.items()}
            seconds = (c.duration or 0) / 1e6
            return {**meta, "duration": f"{seconds:.3f}", "sample_rate": str(stream.rate),
                    "channels": str(stream.channels)}
    except (av.error.FFmpegError, IndexError) as e:
        logger.warning("%s: no readable metadata (%s)", path, e)
        return {}


def _album_json_entry(file: Path) -> dict[str, str]:
    sidecar = file.parent / "album.json"
    if not sidecar.is_file():
        return {}
    try:
        album = json.loads(sidecar.read_text(encoding="utf-8"))
        for t in album.get("tracks", []):
            if t.get("filename") == file.name:
                return {k: str(v) for k, v in t.items() if isinstance(v, str)}
    except (json.JSONDecodeError, AttributeError) as e:
        logger.warning("%s: unreadable album.json (%s)", file, e)
    return {}


# --- licences -----------------------------------------------------------------------------
_LICENCE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:Attribution-ShareAlike|BY-SA)[ /-]?(?P<v>\d\.\d)", re.I), "CC-BY-SA-{v}"),
    (re.compile(r"licenses/by-sa/(?P<v>\d\.\d)", re.I), "CC-BY-SA-{v}"),
    (re.compile(r"licenses/by/(?P<v>\d\.\d)", re.I), "CC-BY-{v}"),
    (re.compile(r"Attribution (?P<v>\d\.\d)", re.I), "CC-BY-{v}"),
    (re.compile(r"\bCC0\b|Public Domain Dedication", re.I), "CC0-1.0"),
    (re.compile(r"GNU Lesser General Public License,? (?:as published [^.]*?)?(?:either )?"
                r"version (?P<v>\d(?:\.\d)?)(?P<later>[^.]{0,80}?later)?", re.I), "LGPL-{v}{plus}"),
    (re.compile(r"GNU General Public License,? (?:as published [^.]*?)?(?:either )?"
                r"version (?P<v>\d)(?P<later>[^.]{0,80}?later)?", re.I), "GPL-{v}{plus}"),
)


def package_licence(copyright_file: Path) -> str:
    """The licence of a package's files, from its Debian ``copyright`` file.

    Machine-readable (DEP-5) files: the ``License`` of the ``Files: *`` paragraph (else of
    the first ``Files`` paragraph). Free-form files: the first licence named in the text
    among CC BY-SA / CC BY / CC0 / LGPL / GPL (with version, ``+`` for "or later").
    ``unknown`` if there is no file or nothing is recognised.
    """
    path = Path(copyright_file)
    if not path.is_file():
        return "unknown"
    text = path.read_text(encoding="utf-8", errors="replace")
    if text.startswith("Format:"):
        found = _dep5_licence(text)
        if found:
            return found
    return _guess_licence(text)


def _dep5_licence(text: str) -> str | None:
    first = None
    for para in re.split(r"\n\s*\n", text):
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", para, flags=re.M))
        if "Files" in fields and fields.get("License"):
            if "*" in fields["Files"].split():
                return fields["License"].strip()
            first = first or fields["License"].strip()
    return first


def _guess_licence(text: str) -> str:
    flat = " ".join(text.split())
    best: tuple[int, str] | None = None
    for pattern, fmt in _LICENCE_PATTERNS:
        m = pattern.search(flat)
        if m and (best is None or m.start() < best[0]):
            groups = m.groupdict()
            name = fmt.format(v=groups.get("v") or "", plus="+" if groups.get("later") else "")
            best = (m.start(), name)
    return best[1] if best else "unknown"

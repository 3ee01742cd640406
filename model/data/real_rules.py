"""Which files of a Debian game package are music, and what their sidecar files say.

The generic rule (:data:`GENERIC`) keeps audio files under a directory named ``music``
(any case), else every audio file. Packages where that is wrong or not enough have a
:class:`MusicRule` in :data:`PACKAGE_RULES`:

- music inside ``.pk3``/``.zip`` archives (Nexuiz, UFO:AI, 0 A.D.): the members are
  extracted and selected by member patterns (or the generic rule over member paths);
- music without a ``music`` directory, beside sound effects (Frozen-Bubble's ``*zik*``);
- a ``music`` directory that is not music (Fish Fillets' level "music" has voice lines
  under ``sound/music/en``; Wesnoth's ``silence.ogg`` is a placeholder);
- Frets on Fire songs: each song is a folder of stems (``song.ogg`` = backing band,
  ``guitar.ogg`` = lead guitar, ``rhythm.ogg`` if present) that the game plays together;
  they are mixed into one track (sum at unity gain, as the game plays them, scaled down
  only if the sum would clip; shorter stems padded with silence), written as FLAC;
- SuperTuxKart's sped-up "last lap" copies (``fast-filename`` in its ``.music`` files)
  are duplicates and are left out as variants.

Tracker modules and MIDI (``.xm .mod .it .s3m .umx .mid .midi``) in a music selection can't
be decoded to audio here: they are skipped and reported with the other skips, never
dropped silently.

:func:`sidecar_meta` reads per-track title/artist from the files games keep beside their
music (SuperTuxKart ``.music``, Frets on Fire ``song.ini``, Hedgewars ``credits.txt``,
OpenClonk ``authors.txt``, Extreme Tux Racer ``readme``, LinCity-NG ``default.xml``);
:func:`dep5_file` reads the per-file ``Copyright``/``License`` of a DEP-5 copyright file.
"""

from __future__ import annotations

import configparser
import fnmatch
import logging
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import soundfile as sf

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset({".ogg", ".oga", ".opus", ".flac", ".wav", ".mp3"})
#: Music formats this pipeline cannot decode (tracker modules, MIDI): reported, not kept.
UNDECODABLE_EXTENSIONS = frozenset({".xm", ".mod", ".it", ".s3m", ".umx", ".mid", ".midi"})
ARCHIVE_EXTENSIONS = frozenset({".pk3", ".zip"})
SKIP_UNDECODABLE = "undecodable format (tracker module or MIDI)"
SKIP_VARIANT = "duplicate variant (sped-up copy)"
SKIP_UNREADABLE = "unreadable audio"
SKIP_STEM_RATES = "stems with different sample rates"


@dataclass(frozen=True)
class MusicRule:
    """How to find one package's music.

    Attributes:
        include: fnmatch patterns over tree-relative POSIX paths; empty: the generic rule.
        exclude: patterns removed from ``include``'s matches.
        archives: patterns of ``.pk3``/``.zip`` files whose members hold the music.
        members: patterns over member paths; empty: the generic rule over member paths.
        stems: each folder of matched audio files is one song, its files are stems to mix.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    archives: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    stems: bool = False


GENERIC = MusicRule()
_FOF = MusicRule(include=("usr/share/games/fretsonfire/data/songs/*/*/*",), stems=True)
PACKAGE_RULES: dict[str, MusicRule] = {
    "nexuiz-music": MusicRule(archives=("usr/share/games/nexuiz/data/*.pk3",),
                              members=("sound/cdtracks/*",)),
    "ufoai-music": MusicRule(archives=("usr/share/games/ufoai/base/*.pk3",)),
    "0ad-data": MusicRule(archives=("usr/share/games/0ad/mods/public/public.zip",)),
    "frozen-bubble-data": MusicRule(include=("usr/share/games/frozen-bubble/snd/*zik*",)),
    "fillets-ng-data": MusicRule(include=("usr/share/games/fillets-ng/music/*",)),
    "wesnoth-1.16-music": MusicRule(include=("usr/share/games/wesnoth/*/data/core/music/*",),
                                    exclude=("*/silence.ogg",)),
    "openclonk-data": MusicRule(include=("usr/share/games/openclonk/Music.ocg/*",)),
    "fretsonfire-songs-muldjord": _FOF,
    "fretsonfire-songs-sectoid": _FOF,
}


@dataclass(frozen=True)
class Selected:
    """One track to catalogue.

    Attributes:
        path: the audio on disk (the file itself, an extracted member or a stem mix).
        logical: tree-relative path naming the track (archive members as
            ``<archive>/<member>``, songs as ``<song folder>.flac``).
        source_path: where it came from in the package, ``/usr/...``; members as
            ``/usr/.../x.pk3!member``; mixes as the song folder plus ``[stem+stem]``.
        meta: title/artist found beside it (may be empty).
    """

    path: Path
    logical: PurePosixPath
    source_path: str
    meta: dict[str, str] = field(default_factory=dict)


@dataclass
class Selection:
    """The tracks of a package and what was left out, by reason (source paths)."""

    tracks: list[Selected] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, source: str) -> None:
        self.skipped.setdefault(reason, []).append(source)
        logger.warning("skipped %s: %s", source, reason)


def rule_for(package: str) -> MusicRule:
    """The package's rule, :data:`GENERIC` if it has none."""
    return PACKAGE_RULES.get(package, GENERIC)


def select_music(tree: Path, rule: MusicRule, work: Path) -> Selection:
    """Find a package's music under its unpacked ``tree``.

    Args:
        tree: the ``dpkg-deb -x`` output.
        rule: see :class:`MusicRule`.
        work: a scratch folder for extracted members and stem mixes (outside ``tree``).

    Returns:
        The selection, tracks in path order.
    """
    sel = Selection()
    if rule.archives:
        for archive in _matching(tree, rule.archives):
            _select_members(tree, archive, rule, work, sel)
        return sel
    candidates = _matching(tree, rule.include) if rule.include else _all_files(tree)
    candidates = [p for p in candidates if not _matches(_rel(tree, p), rule.exclude)]
    if rule.stems:
        _select_songs(tree, candidates, work, sel)
        return sel
    files, odd = _classify(candidates)
    if not rule.include:
        files, odd = _music_dirs(tree, files), _music_dirs(tree, odd)
    for p in odd:
        sel.skip(SKIP_UNDECODABLE, "/" + _rel(tree, p))
    variants = _fast_variants(files)
    for p in files:
        if p.name in variants.get(p.parent, ()):
            sel.skip(SKIP_VARIANT, "/" + _rel(tree, p))
            continue
        sel.tracks.append(Selected(p, PurePosixPath(_rel(tree, p)), "/" + _rel(tree, p),
                                   sidecar_meta(p)))
    return sel


# --- plain files --------------------------------------------------------------------------
def _rel(tree: Path, p: Path) -> str:
    return p.relative_to(tree).as_posix()


def _matches(rel: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(rel, pat) for pat in patterns)


def _all_files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink())


def _matching(tree: Path, patterns: Iterable[str]) -> list[Path]:
    return [p for p in _all_files(tree) if _matches(_rel(tree, p), patterns)]


def _music_dirs(tree: Path, files: list[Path]) -> list[Path]:
    """Generic rule: those under a directory named music, if any, else all."""
    music = [p for p in files if "music" in (x.lower() for x in p.relative_to(tree).parts[:-1])]
    return music or files


def _classify(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """(audio files, undecodable music files) among ``files``."""
    audio, odd = [], []
    for p in files:
        ext = p.suffix.lower()
        if ext in AUDIO_EXTENSIONS:
            audio.append(p)
        elif ext in UNDECODABLE_EXTENSIONS:
            odd.append(p)
    return audio, odd


def _fast_variants(files: list[Path]) -> dict[Path, set[str]]:
    """SuperTuxKart: the ``fast-filename`` of every ``.music`` file, per directory."""
    out: dict[Path, set[str]] = {}
    for d in {p.parent for p in files}:
        for music in d.glob("*.music"):
            fast = _xml_attrs(music).get("fast-filename")
            if fast:
                out.setdefault(d, set()).add(fast)
    return out


# --- archives -----------------------------------------------------------------------------
def _select_members(tree: Path, archive: Path, rule: MusicRule, work: Path,
                    sel: Selection) -> None:
    rel = _rel(tree, archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            names = sorted(n for n in zf.namelist() if not n.endswith("/"))
            if rule.members:
                picked = [n for n in names if _matches(n, rule.members)]
            else:
                parts = {n: PurePosixPath(n).parts[:-1] for n in names}
                picked = [n for n in names if "music" in (x.lower() for x in parts[n])]
            for name in picked:
                ext = PurePosixPath(name).suffix.lower()
                source = f"/{rel}!{name}"
                if ext in UNDECODABLE_EXTENSIONS:
                    sel.skip(SKIP_UNDECODABLE, source)
                elif ext in AUDIO_EXTENSIONS:
                    target = work / "members" / rel / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(name) as src, open(target, "wb") as dst:
                        while chunk := src.read(1 << 20):
                            dst.write(chunk)
                    sel.tracks.append(Selected(target, PurePosixPath(rel) / name, source))
    except (zipfile.BadZipFile, OSError) as e:
        sel.skip(f"unreadable archive ({e})", f"/{rel}")


# --- Frets on Fire songs ------------------------------------------------------------------
def _select_songs(tree: Path, files: list[Path], work: Path, sel: Selection) -> None:
    folders: dict[Path, list[Path]] = {}
    for p in files:
        if p.suffix.lower() in AUDIO_EXTENSIONS:
            folders.setdefault(p.parent, []).append(p)
    for folder, stems in sorted(folders.items()):
        rel = _rel(tree, folder)
        source = f"/{rel}/[{'+'.join(s.name for s in sorted(stems))}]"
        target = work / "mixed" / (rel + ".flac")
        if not mix_stems(sorted(stems), target):
            sel.skip(SKIP_STEM_RATES, source)
            continue
        sel.tracks.append(Selected(target, PurePosixPath(rel + ".flac"), source,
                                   _song_ini(folder / "song.ini")))


def mix_stems(stems: list[Path], target: Path) -> bool:
    """Sum ``stems`` (unity gain, zero-padded to the longest) into a 16-bit FLAC.

    Mono stems are spread over all channels of the widest stem; the sum is scaled down
    only if its peak would exceed full scale. Returns False (writing nothing) when the
    stems' sample rates differ.
    """
    infos = [sf.info(str(s)) for s in stems]
    if len({i.samplerate for i in infos}) != 1:
        return False
    channels = max(i.channels for i in infos)
    mix = np.zeros((max(i.frames for i in infos), channels), dtype=np.float64)
    for s in stems:
        x, _ = sf.read(str(s), dtype="float64", always_2d=True)
        mix[: len(x)] += x if x.shape[1] == channels else x.mean(axis=1, keepdims=True)
    peak = float(np.abs(mix).max()) if mix.size else 0.0
    if peak > 1.0:
        mix /= peak / 0.999
    target.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(target), mix.astype(np.float32), infos[0].samplerate, subtype="PCM_16",
             format="FLAC")
    return True


# --- sidecars -----------------------------------------------------------------------------
def sidecar_meta(file: Path) -> dict[str, str]:
    """Title and artist of ``file`` from the game's own files beside it ({} if none)."""
    d = file.parent
    for reader in (_stk_music, _credits_txt, _authors_txt, _etr_readme, _lincity_xml):
        found = reader(d, file)
        if found:
            return found
    return {}


def _xml_attrs(path: Path) -> dict[str, str]:
    try:
        return dict(ET.parse(path).getroot().attrib)
    except (ET.ParseError, OSError):
        return {}


def _stk_music(d: Path, file: Path) -> dict[str, str]:
    for music in d.glob("*.music"):
        a = _xml_attrs(music)
        if a.get("file") == file.name:
            return {k: v for k, v in (("title", a.get("title", "")),
                                      ("artist", a.get("composer", ""))) if v}
    return {}


def _credits_txt(d: Path, file: Path) -> dict[str, str]:
    """Hedgewars ``credits.txt``: ``File.ogg=Author`` lines (file names case-insensitive)."""
    path = d / "credits.txt"
    if not path.is_file():
        return {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        name, sep, author = line.partition("=")
        if sep and name.strip().lower() == file.name.lower():
            return {"artist": author.strip()}
    return {}


def _authors_txt(d: Path, file: Path) -> dict[str, str]:
    """OpenClonk ``authors.txt``: ``Author   Work, Work, ...`` rows (works without extension)."""
    path = d / "authors.txt"
    if not path.is_file():
        return {}
    stem = file.stem.lstrip("@")
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(r"^(\S.*?)\s{2,}(.+)$", line)
        if m and stem in (w.strip() for w in m.group(2).split(",")):
            return {"artist": m.group(1).strip()}
    return {}


def _etr_readme(d: Path, file: Path) -> dict[str, str]:
    """Extreme Tux Racer ``readme``: ``Name <mail> composed:`` then indented file names."""
    path = d / "readme"
    if not path.is_file():
        return {}
    author = ""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(r"^(\S.*?)\s*(<[^>]*>)?\s*composed:\s*$", line)
        if m:
            author = m.group(1).strip()
        elif author and line.strip() == file.name:
            return {"artist": author}
    return {}


def _lincity_xml(d: Path, file: Path) -> dict[str, str]:
    """LinCity-NG ``default.xml``: ``<song title="Artist - Title" filename="...">``."""
    path = d / "default.xml"
    if not path.is_file():
        return {}
    try:
        songs = ET.parse(path).getroot().iter("song")
    except ET.ParseError:
        return {}
    for song in songs:
        if song.get("filename") == file.name:
            artist, _, title = song.get("title", "").partition(" - ")
            return {"artist": artist.strip(), "title": title.strip() or artist.strip()}
    return {}


def _song_ini(path: Path) -> dict[str, str]:
    """Frets on Fire ``song.ini``: ``[song]`` ``name`` and ``artist``."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, configparser.Error):
        return {}
    song = parser["song"] if parser.has_section("song") else {}
    return {k: v for k, v in (("title", song.get("name", "")),
                              ("artist", song.get("artist", ""))) if v}


def dep5_file(copyright_text: str, source_path: str) -> dict[str, str]:
    """Per-file ``License`` and ``Copyright`` holder for an installed file, from DEP-5.

    Paragraph patterns are source-tree paths (``data/music/bay.ogg``); an installed path
    matches when it ends with one (``/usr/share/games/stk/data/music/bay.ogg``); an archive
    member is matched as if it lay beside its archive (``/usr/.../base/0music.pk3!music/x.ogg``
    as ``/usr/.../base/music/x.ogg``). A holder is only taken from a one-line
    ``Copyright``; the ``Files`` may span lines. The last
    matching paragraph wins (DEP-5); ``Files: *`` is ignored (the package licence covers it).

    Returns:
        ``{"licence": ..., "holder": ...}`` (holder without years), or {} if none matches.
    """
    found: dict[str, str] = {}
    archive, _, member = source_path.partition("!")  # a member: as if beside its archive
    path = f"{archive.rsplit('/', 1)[0]}/{member}" if member else archive
    for para in re.split(r"\n\s*\n", copyright_text):
        m = re.search(r"^Files:[ \t]*(.*(?:\n[ \t]+.*)*)", para, flags=re.M)
        if not m:
            continue
        patterns = [p for p in m.group(1).split() if p != "*"]
        if not any(fnmatch.fnmatchcase(path, "*/" + p.lstrip("./")) for p in patterns):
            continue
        lic = re.search(r"^License:[ \t]*(\S.*)$", para, flags=re.M)
        holder = re.search(r"^Copyright:[ \t]*(.*)$", para, flags=re.M)
        found = {"licence": lic.group(1).strip() if lic else ""}
        if holder:
            years = r"^(?:\d{4}(?:\s*[-–]\s*\d{4})?\s*,?\s*)+"
            found["holder"] = re.sub(years, "", holder.group(1)).strip()
    return found

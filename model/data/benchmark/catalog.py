"""The catalogue of music21 corpus pieces the benchmark draws from.

Every ABC tune (one ``X:`` record of an opus file) and every other score file is one piece.
ABC headers are read here directly (title, ``R:`` rhythm, ``M:`` metre), which is fast and
gives the form of most folk tunes without parsing their music.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from model.data.benchmark.labels import FOLK_COLLECTIONS, PieceInfo, genre_tags

logger = logging.getLogger(__name__)

SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc")
EXCLUDED_COLLECTIONS = frozenset({"demos", "theoryExercises"})
#: Metres whose melodies the arrangement styles (4/4 grooves) can carry.
DUPLE_METRES = frozenset({"c", "c|", "2/4", "4/4", "2/2"})


@dataclass(frozen=True)
class Piece:
    """One corpus piece.

    Args:
        key: the piece id, unique and stable: ``<relpath>`` or ``<relpath>#<number>``.
        info: what the labelling rules read.
        metre: the ABC ``M:`` field, lowercase ("" for other formats).
    """

    key: str
    info: PieceInfo
    metre: str = ""

    @property
    def arrangeable(self) -> bool:
        """A folk tune in a duple metre: a melody the arrangement styles can carry."""
        return self.info.collection in FOLK_COLLECTIONS and self.metre in DUPLE_METRES

    @cached_property
    def genre(self) -> tuple[str, ...]:
        """Genre tags of the piece as written (labels.genre_tags), computed once."""
        return genre_tags(self.info)


def corpus_root() -> Path:
    """The directory of music21's core corpus."""
    from music21 import corpus

    return Path(corpus.__file__).parent


def read_abc_headers(text: str) -> list[dict[str, str]]:
    """Header fields (first value of X, T, R, M) of every tune in an ABC file."""
    tunes: list[dict[str, str]] = []
    for line in text.splitlines():
        m = re.match(r"^([XTRM]):\s*(.*?)\s*$", line)
        if not m:
            continue
        field, value = m.groups()
        if field == "X":
            tunes.append({"X": value})
        elif tunes and field not in tunes[-1]:
            tunes[-1][field] = value
    return tunes


def _abc_pieces(root: Path, path: Path) -> list[Piece]:
    rel = path.relative_to(root).as_posix()
    pieces, seen = [], set()
    text = path.read_text(encoding="utf-8", errors="replace")
    for tune in read_abc_headers(text):
        try:
            number = int(tune["X"])
        except ValueError:
            continue
        if number in seen:  # a repeated X: cannot be parsed by number
            continue
        seen.add(number)
        info = PieceInfo(rel, number, tune.get("T", ""), tune.get("R", "").lower())
        pieces.append(Piece(f"{rel}#{number}", info, tune.get("M", "").replace(" ", "").lower()))
    return pieces


def _score_files(root: Path) -> list[Path]:
    files: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in SCORE_SUFFIXES or not path.is_file():
            continue
        rel = path.relative_to(root)
        if rel.parts[0] in EXCLUDED_COLLECTIONS or len(rel.parts) < 2:
            continue
        stem = rel.with_suffix("").as_posix()
        files.setdefault(stem, path)  # one encoding per work (xml before musx ...)
    return sorted(files.values())


def build_catalogue(root: Path | None = None) -> list[Piece]:
    """Every piece of the core corpus, sorted by key (read once per process and root).

    Args:
        root: the corpus directory; default :func:`corpus_root`.
    """
    return list(_catalogue(Path(root or corpus_root())))


@lru_cache(maxsize=4)
def _catalogue(root: Path) -> tuple[Piece, ...]:
    pieces: list[Piece] = []
    for path in _score_files(root):
        if path.suffix == ".abc":
            pieces.extend(_abc_pieces(root, path))
        else:
            rel = path.relative_to(root).as_posix()
            pieces.append(Piece(rel, PieceInfo(rel, None, path.stem, "")))
    pieces.sort(key=lambda p: p.key)
    logger.info("corpus catalogue: %d pieces under %s", len(pieces), root)
    return tuple(pieces)


#: Collection -> (artist, album) for the manifest's metadata columns.
COLLECTION_CREDITS: dict[str, tuple[str, str]] = {
    "airdsAirs": ("traditional", "Aird's Airs (Scottish, 1782-1803)"),
    "bach": ("J. S. Bach", "Bach chorales"),
    "beach": ("Amy Beach", "Songs"),
    "beethoven": ("Ludwig van Beethoven", "String quartets"),
    "chopin": ("Frederic Chopin", "Mazurkas"),
    "ciconia": ("Johannes Ciconia", "Motets"),
    "corelli": ("Arcangelo Corelli", "Trio sonatas"),
    "cpebach": ("C. P. E. Bach", "Keyboard sonatas"),
    "essenFolksong": ("traditional", "Essen Folksong Collection"),
    "handel": ("G. F. Handel", "Rinaldo"),
    "haydn": ("Joseph Haydn", "String quartets"),
    "johnson_j_r": ("J. Rosamond Johnson", "Songs"),
    "joplin": ("Scott Joplin", "Rags"),
    "josquin": ("Josquin des Prez", "Chansons and masses"),
    "leadSheet": ("various", "Lead sheets"),
    "liliuokalani": ("Liliuokalani", "Songs"),
    "luca": ("Gloria (Luca)", "Mass movements"),
    "lusitano": ("Vicente Lusitano", "Madrigals"),
    "miscFolk": ("traditional", "Miscellaneous folk tunes"),
    "monteverdi": ("Claudio Monteverdi", "Madrigals, books 3-5"),
    "mozart": ("W. A. Mozart", "String quartets and sonatas"),
    "nottingham-dataset": ("traditional", "Nottingham Music Database"),
    "oneills1850": ("traditional", "O'Neill's Music of Ireland (1850 melodies)"),
    "palestrina": ("Giovanni Pierluigi da Palestrina", "Masses"),
    "ryansMammoth": ("traditional", "Ryan's Mammoth Collection (1883)"),
    "schoenberg": ("Arnold Schoenberg", "Piano pieces, op. 19"),
    "schubert": ("Franz Schubert", "Lieder"),
    "schumann_clara": ("Clara Schumann", "Piano works"),
    "schumann_robert": ("Robert Schumann", "Lieder and quartets"),
    "trecento": ("various (Italian trecento)", "Polyphonic Music of the Fourteenth Century"),
    "verdi": ("Giuseppe Verdi", "Rigoletto"),
    "weber": ("Carl Maria von Weber", "Concertino for clarinet"),
    "webern": ("Anton Webern", "Canons, op. 16"),
}


def credits(collection: str) -> tuple[str, str]:
    """(artist, album) of a collection; unknown ones credit the collection itself."""
    return COLLECTION_CREDITS.get(collection, ("unknown", collection))

"""Tag vocabulary and the deterministic labelling rules of the benchmark (docs/dataset.md).

Four concepts, multi-label:

- genre: the corpus form of a piece (from its collection, path, ABC ``R:`` field or title),
  with the parent tags ``dance tune`` and ``sacred``; or, for a generated arrangement, its
  style (``jazz``, ``rock``, ...).
- mood: a table over mode (major / minor / ambiguous, from music21's key analysis and its
  correlation coefficient) and arousal (from the beat rate and the render-time dynamics).
- instrument: the General MIDI family of every program that sounds in the clip, plus
  ``drums`` when the percussion channel plays.
- era: from the collection (composer), merged into seven classes; every arrangement is
  ``contemporary``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from layout.schema import ConceptSchema

STYLES: tuple[str, ...] = (
    "jazz", "rock", "blues", "electronic", "reggae", "latin", "hip-hop", "country",
)
FORMS: tuple[str, ...] = (
    "folk song", "chorale", "mass", "madrigal", "reel", "jig", "hornpipe", "strathspey",
    "air", "march", "string quartet", "art song", "piano piece",
)
PARENT_GENRES: tuple[str, ...] = ("dance tune", "sacred")
GENRES: tuple[str, ...] = FORMS + PARENT_GENRES + STYLES
MOODS: tuple[str, ...] = ("happy", "sad", "calm", "energetic", "dark", "tense")
INSTRUMENTS: tuple[str, ...] = (
    "piano", "organ", "guitar", "bass", "strings", "brass", "reeds", "flute", "voice", "synth",
    "drums",
)
ERAS: tuple[str, ...] = (
    "renaissance", "baroque", "classical", "romantic", "modern", "traditional", "contemporary",
)
CONCEPTS: dict[str, tuple[str, ...]] = {
    "genre": GENRES, "mood": MOODS, "instrument": INSTRUMENTS, "era": ERAS,
}

DANCE_FORMS = frozenset({"reel", "jig", "hornpipe", "strathspey"})
SACRED_FORMS = frozenset({"chorale", "mass"})

#: General MIDI programs used at render time, by instrument tag. Bass and drums are roles of
#: their own; the others are drawn for melody, chord and score parts alike.
PROGRAMS: dict[str, tuple[int, ...]] = {
    "piano": (0, 1, 2, 4, 5),
    "organ": (16, 17, 19, 20),
    "guitar": (24, 25, 26, 27, 29, 30),
    "bass": (32, 33, 34, 35, 38, 39),
    "strings": (40, 41, 42, 48, 49),
    "brass": (56, 57, 60, 61),
    "reeds": (64, 65, 66, 68, 70, 71),
    "flute": (72, 73, 74, 75),
    "voice": (52, 53, 54),
    "synth": (62, 80, 81, 89, 90),
}
PROGRAM_TAG: dict[int, str] = {p: tag for tag, ps in PROGRAMS.items() for p in ps}
DRUM_CHANNEL = 9

ERA_OF_COLLECTION: dict[str, str] = {
    **dict.fromkeys(
        ("palestrina", "josquin", "lusitano", "monteverdi", "trecento", "ciconia", "luca"),
        "renaissance",
    ),
    **dict.fromkeys(("bach", "handel", "corelli"), "baroque"),
    **dict.fromkeys(("haydn", "mozart", "beethoven", "cpebach"), "classical"),
    **dict.fromkeys(
        ("schubert", "schumann_robert", "schumann_clara", "chopin", "verdi", "weber", "beach",
         "liliuokalani"),
        "romantic",
    ),
    **dict.fromkeys(("schoenberg", "webern", "joplin", "johnson_j_r", "leadSheet"), "modern"),
    **dict.fromkeys(
        ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "miscFolk",
         "nottingham-dataset"),
        "traditional",
    ),
}
FOLK_COLLECTIONS = frozenset(c for c, e in ERA_OF_COLLECTION.items() if e == "traditional")

# Keyword -> form, tried in order on the ABC rhythm field, then on the title.
_FORM_WORDS: tuple[tuple[str, str], ...] = (
    (r"slip ?jig|double jig|\bjig|\bslide\b", "jig"),
    (r"\breel", "reel"),
    (r"hornpipe|\bclog\b", "hornpipe"),
    (r"strathspey|\bfling\b", "strathspey"),
    (r"\bmarch|quick ?step", "march"),
    (r"\bair\b|\blament\b", "air"),
)
_OTHER_DANCES = re.compile(r"waltz|polka|gavotte|mazurka|\bwalkaround\b")
_MASS_WORDS = re.compile(r"kyrie|gloria|credo|sanctus|agnus|benedictus", re.I)

# O'Neill's Music of Ireland (1903) is ordered by form: tune number -> form.
ONEILLS_RANGES: tuple[tuple[int, int, str], ...] = (
    (1, 625, "air"), (626, 700, "march"), (701, 1175, "jig"), (1176, 1555, "reel"),
    (1556, 1780, "hornpipe"),
)

_STRING_QUARTETS = re.compile(r"^(haydn|mozart/k(80|155|156|458)|beethoven/opus(18|59|74|13[23])"
                              r"|schumann_robert/opus41)")
_PIANO = re.compile(r"^(chopin|joplin|schoenberg|cpebach|mozart/k545|bach/bwv846"
                    r"|schumann_clara/polonaise)")
_SONG = re.compile(r"^(schubert|schumann_robert|verdi|handel|beach|liliuokalani|johnson_j_r"
                   r"|webern|leadSheet)")


class LabelError(ValueError):
    """A value outside what a labelling rule accepts (unknown style, program, mode ...)."""


@dataclass(frozen=True)
class PieceInfo:
    """What the genre and era rules read about a corpus piece.

    Args:
        relpath: path inside the music21 corpus, e.g. ``oneills1850/1176-1275.abc``.
        number: the ABC tune number (``X:``) inside an opus file, else None.
        title: the title (ABC ``T:`` or file stem).
        rhythm: the ABC ``R:`` field, lowercase, or "".
    """

    relpath: str
    number: int | None = None
    title: str = ""
    rhythm: str = ""

    @property
    def collection(self) -> str:
        return self.relpath.split("/", 1)[0]


def _form_from_words(text: str) -> str | None:
    text = text.lower()
    for pattern, form in _FORM_WORDS:
        if re.search(pattern, text):
            return form
    return None


def corpus_form(piece: PieceInfo) -> str | None:
    """The form of a corpus piece, or None when no rule gives one with confidence.

    Order: the ABC rhythm field, the title, then collection rules (Essen -> folk song,
    O'Neill's by tune number, composers by path).
    """
    coll, path = piece.collection, piece.relpath
    if coll in FOLK_COLLECTIONS:
        for text in (piece.rhythm, piece.title):
            form = _form_from_words(text)
            if form:
                return form
        if coll == "essenFolksong" or path.startswith("miscFolk/northumbrian"):
            return "folk song"
        if coll == "nottingham-dataset" and "reels" in path:
            return "reel"
        if coll == "oneills1850" and piece.number is not None:
            for lo, hi, form in ONEILLS_RANGES:
                if lo <= piece.number <= hi:
                    return form
        return None
    if coll == "bach":
        return "piano piece" if _PIANO.match(path) else "chorale"
    if coll == "palestrina" or coll == "luca":
        return "mass"
    if coll in ("trecento", "josquin"):
        return "mass" if _MASS_WORDS.search(path) else "madrigal"
    if coll in ("monteverdi", "lusitano"):
        return "madrigal"
    for pattern, form in ((_STRING_QUARTETS, "string quartet"), (_PIANO, "piano piece"),
                          (_SONG, "art song")):
        if pattern.match(path):
            return form
    return None


def genre_tags(piece: PieceInfo) -> tuple[str, ...]:
    """Genre tags of a corpus piece rendered as written: its form plus parent tags.

    A folk dance that names no tagged form (waltz, polka ...) gets ``dance tune`` alone.
    """
    form = corpus_form(piece)
    if form is None:
        other = piece.collection in FOLK_COLLECTIONS and _OTHER_DANCES.search(
            f"{piece.rhythm} {piece.title}".lower()
        )
        return ("dance tune",) if other else ()
    tags = [form]
    if form in DANCE_FORMS:
        tags.append("dance tune")
    if form in SACRED_FORMS:
        tags.append("sacred")
    return tuple(tags)


def style_tags(style: str) -> tuple[str, ...]:
    """Genre tags of a generated arrangement: its style alone."""
    if style not in STYLES:
        raise LabelError(f"unknown style '{style}'; valid: {', '.join(STYLES)}")
    return (style,)


def era_tag(collection: str | None) -> str:
    """Era of a corpus collection; ``None`` (a generated arrangement) is ``contemporary``."""
    if collection is None:
        return "contemporary"
    try:
        return ERA_OF_COLLECTION[collection]
    except KeyError:
        raise LabelError(f"no era for collection '{collection}'") from None


def instrument_tags(programs: list[int] | tuple[int, ...], drums: bool) -> tuple[str, ...]:
    """Instrument tags of the programs that sound, in vocabulary order.

    Raises:
        LabelError: a program outside :data:`PROGRAMS`.
    """
    found = set()
    for p in programs:
        if p not in PROGRAM_TAG:
            raise LabelError(f"program {p} is not in the benchmark's program table")
        found.add(PROGRAM_TAG[p])
    if drums:
        found.add("drums")
    return tuple(t for t in INSTRUMENTS if t in found)


# --- mood -----------------------------------------------------------------------------------
KEY_CONFIDENCE_MIN = 0.75
AROUSAL_LOW, AROUSAL_HIGH = 0.35, 0.65
MOOD_TABLE: dict[tuple[str, str], tuple[str, ...]] = {
    ("major", "low"): ("calm",),
    ("major", "mid"): ("happy",),
    ("major", "high"): ("happy", "energetic"),
    ("minor", "low"): ("sad", "dark"),
    ("minor", "mid"): ("sad",),
    ("minor", "high"): ("tense", "energetic"),
    ("ambiguous", "low"): ("calm", "dark"),
    ("ambiguous", "mid"): ("tense",),
    ("ambiguous", "high"): ("tense", "energetic"),
}


def arousal(beat_bpm: float, velocity: float) -> float:
    """Arousal in [0, 1]: the mean of the tempo score (60..140 beats/min) and the dynamics
    score (velocity 40..110)."""
    tempo = min(max((beat_bpm - 60.0) / 80.0, 0.0), 1.0)
    dyn = min(max((velocity - 40.0) / 70.0, 0.0), 1.0)
    return 0.5 * (tempo + dyn)


def mood_tags(mode: str, confidence: float, beat_bpm: float, velocity: float) -> tuple[str, ...]:
    """Mood tags by the table :data:`MOOD_TABLE`.

    Args:
        mode: ``major`` or ``minor`` (music21 key analysis of the piece or melody).
        confidence: the key analysis' correlation coefficient; below
            :data:`KEY_CONFIDENCE_MIN` the mode counts as ``ambiguous``.
        beat_bpm: beats per minute at render time, the beat being the time signature's
            (dotted quarter in 6/8, half in 2/2, quarter for arrangements).
        velocity: the clip's base MIDI velocity (its dynamics).
    """
    if mode not in ("major", "minor"):
        raise LabelError(f"mode must be 'major' or 'minor', got '{mode}'")
    valence = mode if confidence >= KEY_CONFIDENCE_MIN else "ambiguous"
    a = arousal(beat_bpm, velocity)
    level = "low" if a < AROUSAL_LOW else "high" if a >= AROUSAL_HIGH else "mid"
    return MOOD_TABLE[(valence, level)]


def concept_schema(present: set[str] | None = None, facet_dim: int = 64) -> ConceptSchema:
    """The benchmark's :class:`ConceptSchema`, restricted to ``present`` tags if given."""
    concepts = {
        c: tuple(t for t in tags if present is None or t in present)
        for c, tags in CONCEPTS.items()
    }
    return ConceptSchema(concepts=concepts, facet_dim=facet_dim)

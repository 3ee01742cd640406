"""Reading a free-text search ("calm piano with strings, no vocals") onto a model's tags.

No language model: the model's tag vocabulary is all there is to search by, and the lexicon
(:mod:`layout.lexicon`) says which other words mean one of those tags. The reading is a
signed weight per tag; a tag search ranks tracks by the weighted mean of their tag cosines
(``layout.tags.weighted_tag_query``), so a negative weight pushes a tag's tracks down.

The grammar, all of it:

- **Phrases.** The longest run of up to :data:`MAX_PHRASE_WORDS` words that is a tag of the
  model (case-insensitive, a final plural "s" optional) or a phrase of the lexicon is one
  term. A tag of the model wins over the lexicon ("mellow" is the tag ``Mellow`` where the
  model has it, else the lexicon's *calm*). A lexicon phrase stands for the tags of its group
  that the model has, sharing the term's weight among them; where the model has none, for
  the group's fallback (with its sign: "instrumental" is *no voice*).
- **Negation.** ``no``, ``not``, ``without``, ``non``, ``never``, ``minus``, ``less``, a
  leading ``-`` or ``non-`` on a word: every term after it is negative, until ``with``,
  ``but`` or a punctuation mark (``,;.!?``) ends the clause ("without vocals or drums"
  negates both; "no vocals, strings" only the vocals).
- **Weights.** ``very``, ``really``, ``extremely``, ``super``, ``highly``, ``so``,
  ``strongly``, ``heavily``, ``lots``, ``loads`` double the next term; ``slightly``,
  ``somewhat``, ``bit``, ``little``, ``mildly``, ``hint``, ``touch`` halve it. ``term^w``
  sets it (``w`` a plain ASCII decimal, 0 < w <= :data:`MAX_WEIGHT`).
- **Filler** words (:data:`FILLER`) are skipped. Every other word is reported, as a word
  the lexicon knows but the model has no tag for (``no_tag``), or as not understood.

A tag named twice adds up its weights; tags whose weights cancel drop out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from layout.lexicon import GROUPS, phrase_groups
from layout.numbers import NumberSyntaxError, parse_decimal

MAX_TEXT_CHARS = 500
MAX_PHRASE_WORDS = 4
MAX_WEIGHT = 10.0

NEGATORS = frozenset({"no", "not", "without", "non", "never", "minus", "less", "nothing"})
CLAUSE_ENDS = frozenset({"with", "but", "plus"})
STRONGER = frozenset({"very", "really", "extremely", "super", "highly", "so", "strongly",
                      "heavily", "lots", "loads", "tons", "much"})
WEAKER = frozenset({"slightly", "somewhat", "bit", "little", "mildly", "hint", "touch",
                    "subtle", "light"})
FILLER = frozenset({
    "a", "an", "the", "and", "or", "of", "for", "to", "in", "on", "at", "that", "which", "is",
    "are", "be", "it", "its", "some", "any", "like", "something", "anything", "track",
    "tracks", "song", "songs", "music", "piece", "pieces", "tune", "tunes", "sound", "sounds",
    "sounding", "feel", "feeling", "vibe", "vibes", "style", "kind", "sort", "type", "i", "me",
    "my", "we", "want", "need", "looking", "please", "play", "give", "find", "show", "by",
    "from", "more", "mostly", "mainly", "lot", "plenty", "featuring", "feat", "has",
    "have", "having", "using", "played", "led", "based", "ish", "y", "tone", "mood",
})

_TOKEN = re.compile(
    r"(?P<word>-?[^\W_]+(?:[-'&][^\W_]+)*)(?:\^(?P<weight>[^\s,;!?]*))?|(?P<stop>[,;.!?]+)"
)


class TextQueryError(ValueError):
    """A search text that cannot be read; the message says what is accepted."""


@dataclass(frozen=True)
class ReadTerm:
    """One phrase of the text and what it was read as.

    Attributes:
        text: the phrase as read (lower case).
        tags: the model's tags it stands for (sharing ``weight``).
        weight: signed: negative when negated.
        via: how it was found: ``"tag"`` (a tag of the model), ``"lexicon:<group>"``, or
            ``"lexicon:<group> -> <fallback>"`` (``"-> not <fallback>"`` for a negated one).
    """

    text: str
    tags: tuple[str, ...]
    weight: float
    via: str


@dataclass(frozen=True)
class TextReading:
    """What a text was read as.

    Attributes:
        text: the text, normalised (NFKC, lower case).
        terms: the terms found, in order.
        weights: tag -> signed weight, terms added up (zero sums left out).
        no_tag: phrases the lexicon knows that the model has no tag for.
        not_understood: other words that are not filler.
    """

    text: str
    terms: tuple[ReadTerm, ...]
    weights: dict[str, float]
    no_tag: tuple[str, ...] = field(default=())
    not_understood: tuple[str, ...] = field(default=())


@dataclass
class _Word:
    text: str
    negated_prefix: bool
    weight: float | None
    clause: int


def read_text(text: str, vocabulary: Iterable[str]) -> TextReading:
    """Read ``text`` onto the tags in ``vocabulary`` (see the module docstring).

    Raises:
        TextQueryError: an empty or over-long text, or a bad ``^weight``.
    """
    norm = unicodedata.normalize("NFKC", text).lower().strip()
    if not norm:
        raise TextQueryError("the search text is empty: describe the music, e.g. "
                             "'calm piano with strings, no vocals'")
    if len(norm) > MAX_TEXT_CHARS:
        raise TextQueryError(f"the search text is {len(norm)} characters long; at most "
                             f"{MAX_TEXT_CHARS} are read")
    tags = _tag_names(vocabulary)
    words = _words(norm)
    reader = _Reader(tags)
    i = 0
    while i < len(words):
        i = reader.step(words, i)
    weights: dict[str, float] = {}
    for term in reader.terms:
        for tag in term.tags:
            weights[tag] = weights.get(tag, 0.0) + term.weight / len(term.tags)
    weights = {t: round(w, 9) for t, w in weights.items() if abs(w) > 1e-9}
    return TextReading(text=norm, terms=tuple(reader.terms), weights=weights,
                       no_tag=tuple(dict.fromkeys(reader.no_tag)),
                       not_understood=tuple(dict.fromkeys(reader.not_understood)))


def _tag_names(vocabulary: Iterable[str]) -> dict[str, str]:
    """Lower-cased, space-normalised tag name -> the tag."""
    return {" ".join(t.lower().split()): t for t in vocabulary}


def _words(norm: str) -> list[_Word]:
    words: list[_Word] = []
    clause = 0
    for m in _TOKEN.finditer(norm):
        if m.group("stop"):
            clause += 1
            continue
        raw = m.group("word")
        neg = raw.startswith("-") or raw.startswith("non-")
        raw = raw.removeprefix("-").removeprefix("non-")
        weight = None
        if m.group("weight") is not None:
            weight = _weight(raw, m.group("weight"))
        if raw in CLAUSE_ENDS:
            clause += 1
            continue
        words.append(_Word(raw, neg, weight, clause))
    return words


def _weight(word: str, text: str) -> float:
    try:
        w = parse_decimal(text)
    except NumberSyntaxError as exc:
        raise TextQueryError(f"the weight in '{word}^{text}' is not {exc.rule}") from None
    if not 0 < w <= MAX_WEIGHT:
        raise TextQueryError(f"the weight in '{word}^{text}' must be > 0 and <= {MAX_WEIGHT:g}"
                             " (write 'no " + word + "' to search away from it)")
    return w


class _Reader:
    """Reads words left to right, keeping the clause's negation and the next term's scale."""

    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = tags
        self.groups = phrase_groups()
        self.terms: list[ReadTerm] = []
        self.no_tag: list[str] = []
        self.not_understood: list[str] = []
        self.negated_clause = -1
        self.scale = 1.0

    def step(self, words: list[_Word], i: int) -> int:
        """Read from ``words[i]``; returns the index of the next unread word."""
        w = words[i]
        if w.text in NEGATORS:
            self.negated_clause = w.clause
            return i + 1
        if w.text in STRONGER or w.text in WEAKER:
            self.scale *= 2.0 if w.text in STRONGER else 0.5
            return i + 1
        for n in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            span = words[i:i + n]
            if any(x.clause != w.clause for x in span) or any(x.weight for x in span[:-1]):
                continue
            phrase = " ".join(x.text for x in span)
            if self._term(phrase, span):
                return i + n
        if w.text not in FILLER:
            self.not_understood.append(w.text)
        return i + 1

    def _term(self, phrase: str, span: list[_Word]) -> bool:
        """Add the term ``phrase`` reads as, if any; False when it is no known phrase."""
        found = self._lookup(phrase)
        if found is None and phrase.endswith("s") and len(phrase) > 3:
            found = self._lookup(phrase[:-1])
        if found is None:
            return False
        tags, sign, via = found
        negated = span[0].negated_prefix or self.negated_clause == span[0].clause
        weight = (span[-1].weight or 1.0) * self.scale * sign * (-1.0 if negated else 1.0)
        self.scale = 1.0
        if not tags:
            self.no_tag.append(phrase)
        else:
            self.terms.append(ReadTerm(text=phrase, tags=tags, weight=weight, via=via))
        return True

    def _lookup(self, phrase: str) -> tuple[tuple[str, ...], int, str] | None:
        """(tags, sign, via) of a phrase, tags empty when the model has none; None when the
        phrase is neither a tag nor in the lexicon."""
        if phrase in self.tags:
            return (self.tags[phrase],), 1, "tag"
        group = self.groups.get(phrase)
        if group is None:
            return None
        via = f"lexicon:{group}"
        sign = 1
        seen = {group}
        while True:
            tags = tuple(dict.fromkeys(
                self.tags[p] for p in GROUPS[group].phrases if p in self.tags))
            fallback = GROUPS[group].fallback
            if tags or fallback is None or fallback in seen:
                return tags, sign, via
            sign *= GROUPS[group].fallback_sign
            via += f" -> {'not ' if sign < 0 else ''}{fallback}"
            group = fallback
            seen.add(group)

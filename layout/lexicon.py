"""Words people use for music, grouped by meaning, for reading free-text searches.

A model's tags are its whole vocabulary (``ConceptSchema.tags``); this lexicon only says which
other words mean the same thing. A group lists the phrases of one meaning; the tags it stands
for in a given model are the phrases of the group that are tags of that model. When a model
has none of them, the group may fall back to another group, with a sign: "instrumental"
falls back to *no* voice for a model that has a ``voice`` tag but no ``instrumental`` one.

The groups cover the shipped model's vocabulary (folk and early-music forms, instruments,
eras, six moods) and the 50 Last.fm tags of the Million Song Dataset that the papers use
(``layout/`` does not care which one is loaded). Phrases are lower case, words separated by
one space; a phrase belongs to one group only (:func:`phrase_groups` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    """One meaning: its phrases, and where to turn when a model has none of them as tags.

    Attributes:
        phrases: lower-case phrases of this meaning (tag names among them).
        fallback: the name of another group to use instead, or None.
        fallback_sign: +1 to use that group as it is, -1 to use its negation.
    """

    phrases: tuple[str, ...]
    fallback: str | None = None
    fallback_sign: int = 1


def _g(*phrases: str, fallback: str | None = None, sign: int = 1) -> Group:
    return Group(phrases=phrases, fallback=fallback, fallback_sign=sign)


GROUPS: dict[str, Group] = {
    # --- genres and forms ----------------------------------------------------------------
    "rock": _g("rock", "rock music", "rock and roll", "rock n roll"),
    "classic rock": _g("classic rock", fallback="rock"),
    "hard rock": _g("hard rock", fallback="rock"),
    "alternative rock": _g("alternative rock", fallback="rock"),
    "indie rock": _g("indie rock", fallback="rock"),
    "progressive rock": _g("progressive rock", "prog rock", "prog", fallback="rock"),
    "punk": _g("punk", "punk rock", fallback="rock"),
    "metal": _g("metal", "heavy metal", fallback="rock"),
    "alternative": _g("alternative", "alt"),
    "indie": _g("indie"),
    "pop": _g("pop", "pop music"),
    "indie pop": _g("indie pop", fallback="pop"),
    "electronic": _g("electronic", "electronic music", "electronica", "edm"),
    "electro": _g("electro", fallback="electronic"),
    "house": _g("house", "house music", fallback="electronic"),
    "techno": _g("techno", "trance", fallback="electronic"),
    "dance": _g("dance", "dance music", "danceable", "dance tune", "club"),
    "hip-hop": _g("hip-hop", "hip hop", "hiphop", "rap"),
    "jazz": _g("jazz", "jazzy", "swing", "bebop"),
    "blues": _g("blues", "bluesy"),
    "soul": _g("soul", "gospel"),
    "rnb": _g("rnb", "r&b", "rhythm and blues", fallback="soul"),
    "funk": _g("funk", "funky"),
    "country": _g("country", "country music", "americana", "bluegrass"),
    "reggae": _g("reggae", "dub"),
    "latin": _g("latin", "salsa", "samba", "bossa nova", "tango"),
    "folk": _g("folk", "folk song", "folk music", "folky"),
    "ambient": _g("ambient", "atmospheric", "soundscape", fallback="calm"),
    "experimental": _g("experimental", "avant-garde"),
    "sacred": _g("sacred", "religious", "church", "spiritual", "liturgical"),
    "chorale": _g("chorale", "hymn", fallback="sacred"),
    "mass": _g("mass", fallback="sacred"),
    "madrigal": _g("madrigal"),
    "string quartet": _g("string quartet", "chamber music", fallback="strings"),
    "art song": _g("art song", "lied", "lieder"),
    "piano piece": _g("piano piece", "solo piano", "piano solo", fallback="piano"),
    "march": _g("march", "marching"),
    "air": _g("air"),
    "reel": _g("reel"),
    "jig": _g("jig"),
    "hornpipe": _g("hornpipe"),
    "strathspey": _g("strathspey"),
    "instrumental": _g("instrumental", fallback="voice", sign=-1),
    # --- moods ----------------------------------------------------------------------------
    "happy": _g("happy", "cheerful", "joyful", "joyous", "uplifting", "bright", "fun",
                "positive", "sunny", "playful"),
    "sad": _g("sad", "melancholic", "melancholy", "sorrowful", "mournful", "somber",
              "sombre", "depressing", "heartbreaking", "tearful"),
    "calm": _g("calm", "chill", "chillout", "chilled", "relaxed", "relaxing", "mellow",
               "peaceful", "soothing", "gentle", "quiet", "tranquil", "serene", "laid back",
               "laid-back", "easy listening", "soft"),
    "energetic": _g("energetic", "energy", "upbeat", "powerful", "driving", "intense",
                    "lively", "fast", "high energy", "exciting"),
    "party": _g("party", fallback="energetic"),
    "dark": _g("dark", "ominous", "sinister", "brooding", "eerie", "menacing", "gloomy",
               "haunting"),
    "tense": _g("tense", "tension", "suspense", "suspenseful", "anxious", "nervous",
                "thrilling"),
    "beautiful": _g("beautiful", "lovely", "pretty"),
    "sexy": _g("sexy", "sensual", "seductive"),
    "catchy": _g("catchy", "hooky", "earworm"),
    # --- instruments ----------------------------------------------------------------------
    "piano": _g("piano", "keys", "pianist", "grand piano"),
    "organ": _g("organ", "pipe organ", "hammond", "hammond organ"),
    "guitar": _g("guitar", "acoustic guitar", "electric guitar", "guitarist"),
    "bass": _g("bass", "bass guitar", "bassline", "double bass", "upright bass"),
    "strings": _g("strings", "string", "string section", "violin", "cello", "viola",
                  "orchestra", "orchestral", "fiddle"),
    "brass": _g("brass", "trumpet", "trombone", "horn", "horns", "french horn", "tuba"),
    "reeds": _g("reeds", "reed", "saxophone", "sax", "clarinet", "oboe", "bassoon",
                "woodwind", "woodwinds"),
    "flute": _g("flute", "recorder", "piccolo", "whistle", "tin whistle", "pan flute"),
    "voice": _g("voice", "vocal", "vocals", "vocalist", "singing", "singer", "sung", "choir",
                "choral", "lyrics", "vocalists"),
    "female vocalists": _g("female vocalists", "female vocalist", "female vocals",
                           "female voice", "female singer", fallback="voice"),
    "male vocalists": _g("male vocalists", "male vocalist", "male vocals", "male voice",
                         "male singer", fallback="voice"),
    "synth": _g("synth", "synthesizer", "synthesiser", "synthesizers", "synths", "synthpop"),
    "drums": _g("drums", "drum", "percussion", "beat", "beats", "drummer", "drum kit"),
    "acoustic": _g("acoustic", "unplugged"),
    # --- eras -----------------------------------------------------------------------------
    "renaissance": _g("renaissance", "early music"),
    "baroque": _g("baroque"),
    "classical": _g("classical", "classical music"),
    "romantic": _g("romantic"),
    "modern": _g("modern", "20th century", "twentieth century"),
    "contemporary": _g("contemporary", "recent", "current"),
    "traditional": _g("traditional", "trad"),
    "oldies": _g("oldies", "old school", "vintage"),
    "60s": _g("60s", "1960s", "sixties"),
    "70s": _g("70s", "1970s", "seventies"),
    "80s": _g("80s", "1980s", "eighties"),
    "90s": _g("90s", "1990s", "nineties"),
    "00s": _g("00s", "2000s", "noughties"),
}


def phrase_groups() -> dict[str, str]:
    """Every phrase of the lexicon -> the name of its group.

    Raises:
        ValueError: a phrase listed in two groups, or a fallback naming no group.
    """
    out: dict[str, str] = {}
    for name, group in GROUPS.items():
        if group.fallback is not None and group.fallback not in GROUPS:
            raise ValueError(f"group {name!r} falls back to unknown group {group.fallback!r}")
        for phrase in group.phrases:
            if phrase in out:
                raise ValueError(f"phrase {phrase!r} is in groups {out[phrase]!r} and {name!r}")
            out[phrase] = name
    return out

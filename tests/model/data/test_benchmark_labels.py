"""Labelling rules of the benchmark on hand-built cases."""

from __future__ import annotations

import pytest

from model.data.benchmark.catalog import build_catalogue, read_abc_headers
from model.data.benchmark.labels import (
    CONCEPTS,
    LabelError,
    PieceInfo,
    arousal,
    concept_schema,
    corpus_form,
    era_tag,
    genre_tags,
    instrument_tags,
    mood_tags,
    style_tags,
)


@pytest.mark.parametrize(
    ("mode", "conf", "bpm", "vel", "expected"),
    [
        ("major", 0.9, 60, 40, ("calm",)),  # arousal 0
        ("major", 0.9, 100, 75, ("happy",)),  # arousal 0.5
        ("major", 0.9, 140, 110, ("happy", "energetic")),  # arousal 1
        ("minor", 0.9, 60, 40, ("sad", "dark")),
        ("minor", 0.9, 100, 75, ("sad",)),
        ("minor", 0.8, 180, 127, ("tense", "energetic")),
        ("major", 0.5, 100, 75, ("tense",)),  # low key confidence: ambiguous
        ("minor", 0.74, 60, 40, ("calm", "dark")),
        ("minor", 0.75, 60, 40, ("sad", "dark")),  # the threshold itself is confident
    ],
)
def test_mood_table(mode, conf, bpm, vel, expected):
    assert mood_tags(mode, conf, bpm, vel) == expected


def test_arousal_values_and_boundaries():
    assert arousal(60, 40) == 0.0
    assert arousal(140, 110) == 1.0
    assert arousal(100, 75) == pytest.approx(0.5)
    assert arousal(80, 40) == pytest.approx(0.125)
    # arousal 0.35 exactly is "mid" (happy), just below is "low" (calm)
    assert mood_tags("major", 0.9, 60 + 0.7 * 80, 40) == ("happy",)
    assert mood_tags("major", 0.9, 60 + 0.69 * 80, 40) == ("calm",)


def test_mood_rejects_unknown_mode():
    with pytest.raises(LabelError, match="dorian"):
        mood_tags("dorian", 0.9, 100, 80)


@pytest.mark.parametrize(
    ("collection", "era"),
    [("bach", "baroque"), ("palestrina", "renaissance"), ("trecento", "renaissance"),
     ("mozart", "classical"), ("beethoven", "classical"), ("chopin", "romantic"),
     ("schoenberg", "modern"), ("joplin", "modern"), ("oneills1850", "traditional"),
     ("essenFolksong", "traditional"), (None, "contemporary")],
)
def test_era_mapping(collection, era):
    assert era_tag(collection) == era


def test_era_unknown_collection_is_an_error():
    with pytest.raises(LabelError, match="nowhere"):
        era_tag("nowhere")


def test_every_catalogued_collection_has_an_era():
    collections = {p.info.collection for p in build_catalogue()}
    assert {"bach", "essenFolksong", "palestrina", "oneills1850"} <= collections
    for c in collections:
        assert era_tag(c) in CONCEPTS["era"]


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (PieceInfo("oneills1850/1176-1275.abc", 1180, "The Milliner's Daughter"),
         ("reel", "dance tune")),  # O'Neill's tune-number range
        (PieceInfo("oneills1850/0001-0050.abc", 3, "The Little Heathy Hill"), ("air",)),
        (PieceInfo("oneills1850/1801-1850.abc", 1831, "The Dear Little Island"), ()),
        (PieceInfo("oneills1850/0981-1000.abc", 990, "X", "double jig"), ("jig", "dance tune")),
        (PieceInfo("ryansMammoth/AcrobatsHornpipe.abc", 1, "Acrobats -- Hornpipe"),
         ("hornpipe", "dance tune")),
        (PieceInfo("ryansMammoth/Foo.abc", 1, "Foo Hornpipe", "reel"), ("reel", "dance tune")),
        (PieceInfo("ryansMammoth/Bar.abc", 1, "Bar", "highland fling"),
         ("strathspey", "dance tune")),
        (PieceInfo("airdsAirs/book1.abc", 3, "Quick Step. 25th Regt."), ("march",)),
        (PieceInfo("airdsAirs/book1.abc", 4, "The Lads of the Village."), ()),
        (PieceInfo("airdsAirs/book1.abc", 5, "The Duchess Waltz"), ("dance tune",)),
        (PieceInfo("essenFolksong/altdeu10.abc", 3, "Herzog Ernst", "ballade"), ("folk song",)),
        (PieceInfo("bach/bwv1.6.mxl"), ("chorale", "sacred")),
        (PieceInfo("bach/bwv846.mxl"), ("piano piece",)),
        (PieceInfo("palestrina/Agnus_01.krn"), ("mass", "sacred")),
        (PieceInfo("trecento/PMFC_12_1-Kyrie Rondello.xml"), ("mass", "sacred")),
        (PieceInfo("trecento/PMFC_04-Cara mi donna.xml"), ("madrigal",)),
        (PieceInfo("monteverdi/madrigal.3.1.mxl"), ("madrigal",)),
        (PieceInfo("beethoven/opus18no1/movement1.mxl"), ("string quartet",)),
        (PieceInfo("schumann_robert/opus41no1/movement1.mxl"), ("string quartet",)),
        (PieceInfo("schumann_robert/dichterliebe_no2.xml"), ("art song",)),
        (PieceInfo("mozart/k545/movement1_exposition.mxl"), ("piano piece",)),
        (PieceInfo("weber/concertino_clarinet.mxl"), ()),
    ],
)
def test_genre_of_corpus_piece(info, expected):
    assert genre_tags(info) == expected


def test_corpus_form_is_none_without_evidence():
    assert corpus_form(PieceInfo("corelli/opus3no1/1grave.xml")) is None


def test_style_tags():
    assert style_tags("jazz") == ("jazz",)
    with pytest.raises(LabelError, match="polka"):
        style_tags("polka")


def test_instrument_tags_in_vocabulary_order():
    assert instrument_tags([48, 0, 33, 0], drums=True) == ("piano", "bass", "strings", "drums")
    assert instrument_tags([73], drums=False) == ("flute",)
    with pytest.raises(LabelError, match="program 127"):
        instrument_tags([127], drums=False)


def test_vocabulary_names_and_schema():
    tags = [t for ts in CONCEPTS.values() for t in ts]
    assert len(tags) == len(set(tags))
    for t in tags:
        assert t == t.lower() and ";" not in t and "," not in t
    schema = concept_schema()
    assert tuple(schema.concepts) == ("genre", "mood", "instrument", "era")
    assert schema.num_tags == len(tags)
    small = concept_schema({"jazz", "happy", "piano", "baroque"})
    assert small.concepts == {"genre": ("jazz",), "mood": ("happy",),
                              "instrument": ("piano",), "era": ("baroque",)}


def test_read_abc_headers_first_values_only():
    text = "X: 1\nT:One\nT:Alt title\nR:reel\nM:C|\nK:D\nabc|\n\nX:2\nT: Two\nM:6/8\n"
    assert read_abc_headers(text) == [
        {"X": "1", "T": "One", "R": "reel", "M": "C|"}, {"X": "2", "T": "Two", "M": "6/8"},
    ]

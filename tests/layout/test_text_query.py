"""layout.text_query: free text read onto a model's tags, case by case, by hand."""

from __future__ import annotations

import pytest

from layout.lexicon import GROUPS, phrase_groups
from layout.text_query import MAX_TEXT_CHARS, TextQueryError, read_text
from model.data.msd import MSD50_TAGS

# The shipped model's vocabulary (model/weights/musicprism-default.pt), by concept.
SHIPPED = (
    "folk song", "chorale", "mass", "madrigal", "reel", "jig", "hornpipe", "strathspey", "air",
    "march", "string quartet", "art song", "piano piece", "dance tune", "sacred", "jazz",
    "rock", "blues", "electronic", "reggae", "latin", "hip-hop", "country",
    "happy", "sad", "calm", "energetic", "dark", "tense",
    "piano", "organ", "guitar", "bass", "strings", "brass", "reeds", "flute", "voice", "synth",
    "drums",
    "renaissance", "baroque", "classical", "romantic", "modern", "traditional", "contemporary",
)


def weights(text: str, vocabulary: tuple[str, ...] = SHIPPED) -> dict[str, float]:
    return read_text(text, vocabulary).weights


def test_the_issue_example() -> None:
    r = read_text("Calm piano with strings, no vocals", SHIPPED)
    assert r.weights == {"calm": 1.0, "piano": 1.0, "strings": 1.0, "voice": -1.0}
    assert [(t.text, t.via) for t in r.terms] == [
        ("calm", "tag"), ("piano", "tag"), ("strings", "tag"), ("vocals", "lexicon:voice")]
    assert r.not_understood == () and r.no_tag == ()


@pytest.mark.parametrize(("text", "want"), [
    ("without vocals or drums", {"voice": -1.0, "drums": -1.0}),  # the clause stays negated
    ("no vocals, drums", {"voice": -1.0, "drums": 1.0}),  # punctuation ends it
    ("no vocals but drums", {"voice": -1.0, "drums": 1.0}),
    ("not sad with piano", {"sad": -1.0, "piano": 1.0}),
    ("-vocals jazz", {"voice": -1.0, "jazz": 1.0}),
    ("non-vocal jazz", {"voice": -1.0, "jazz": 1.0}),
])
def test_negation_and_its_scope(text: str, want: dict[str, float]) -> None:
    assert weights(text) == want


@pytest.mark.parametrize(("text", "want"), [
    ("very dark", {"dark": 2.0}),
    ("slightly sad piano", {"sad": 0.5, "piano": 1.0}),  # only the next term
    ("piano^3 strings", {"piano": 3.0, "strings": 1.0}),
    ("very piano^1.5", {"piano": 3.0}),
    ("really no drums", {"drums": -2.0}),
    ("piano, no piano", {}),  # cancelled
    ("sad sad", {"sad": 2.0}),  # named twice adds up
])
def test_weights(text: str, want: dict[str, float]) -> None:
    assert weights(text) == want


@pytest.mark.parametrize("bad", ["piano^x", "piano^0", "piano^-1", "piano^11", "piano^1_0",
                                 "piano^١", "piano^inf", "piano^nan", "piano^"])
def test_a_bad_weight_is_refused_with_the_grammar(bad: str) -> None:
    with pytest.raises(TextQueryError, match="weight in 'piano"):
        read_text(bad, SHIPPED)


def test_phrases_longest_first_plurals_and_spelling() -> None:
    assert weights("string quartet") == {"string quartet": 1.0}  # not string + quartet
    assert weights("guitars and pianos") == {"guitar": 1.0, "piano": 1.0}
    assert weights("hip hop") == weights("Hip-Hop") == {"hip-hop": 1.0}
    assert weights("sax and violin") == {"reeds": 1.0, "strings": 1.0}
    assert weights("ＪＡＺＺ") == {"jazz": 1.0}  # NFKC: full-width letters


def test_fallbacks_keep_their_sign() -> None:
    r = read_text("instrumental jazz", SHIPPED)
    assert r.weights == {"voice": -1.0, "jazz": 1.0}
    assert r.terms[0].via == "lexicon:instrumental -> not voice"
    assert read_text("no instrumental", SHIPPED).weights == {"voice": 1.0}
    assert read_text("heavy metal", SHIPPED).terms[0].via == "lexicon:metal -> rock"
    assert read_text("ambient", SHIPPED).weights == {"calm": 1.0}


def test_words_without_a_tag_and_words_not_understood_are_reported() -> None:
    r = read_text("a catchy polka song by xyzzy, with piano", SHIPPED)
    assert r.weights == {"piano": 1.0}
    assert r.no_tag == ("catchy",)  # the lexicon knows it; the shipped model has no such tag
    assert r.not_understood == ("polka", "xyzzy")  # "a", "song", "by", "with": filler


def test_another_vocabulary_msd50() -> None:
    assert weights("mellow", MSD50_TAGS) == {"Mellow": 1.0}  # a tag wins over the lexicon
    got = weights("calm", MSD50_TAGS)
    assert set(got) == {"chillout", "Mellow", "chill", "easy listening"}
    assert sum(got.values()) == pytest.approx(1.0)  # one term, its weight shared
    assert weights("instrumental", MSD50_TAGS) == {"instrumental": 1.0}
    assert weights("female vocals", MSD50_TAGS) == {"female vocalists": 0.5,
                                                    "female vocalist": 0.5}
    assert weights("prog", MSD50_TAGS) == {"Progressive rock": 1.0}


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_an_empty_text_is_refused(text: str) -> None:
    with pytest.raises(TextQueryError, match="empty"):
        read_text(text, SHIPPED)


def test_an_over_long_text_is_refused() -> None:
    with pytest.raises(TextQueryError, match=f"at most {MAX_TEXT_CHARS}"):
        read_text("piano " * 100, SHIPPED)


@pytest.mark.parametrize("text", ["\x00\x01piano\x7f", "<script>piano</script>",
                                  "piano'; DROP TABLE tracks; --", "🎹 piano 🎻",
                                  "‮piano", "^^^^", ",,,;;;"])
def test_hostile_text_reads_only_what_it_says(text: str) -> None:
    r = read_text(text, SHIPPED)
    assert set(r.weights) <= {"piano"}
    assert all(t in SHIPPED for term in r.terms for t in term.tags)


def test_the_lexicon_is_consistent_and_covers_both_vocabularies() -> None:
    phrases = phrase_groups()  # raises on a phrase in two groups or a dangling fallback
    for tag in (*SHIPPED, *MSD50_TAGS):
        assert tag.lower() in phrases, f"{tag!r} has no synonyms in the lexicon"
    assert all(p == p.lower() and p == " ".join(p.split()) for p in phrases)
    assert all(g.fallback_sign in (1, -1) for g in GROUPS.values())

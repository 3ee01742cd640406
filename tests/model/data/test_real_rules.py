"""Music selection rules on tiny synthetic package trees (no network): generic music
directories, archives (pk3/zip), Frets on Fire stem mixes, SuperTuxKart fast variants,
excludes, undecodable formats, sidecar metadata and DEP-5 per-file licences."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from model.data.real import REAL_PACKAGES, fetch_real
from model.data.real_rules import (
    GENERIC,
    PACKAGE_RULES,
    SKIP_STEM_RATES,
    SKIP_UNDECODABLE,
    SKIP_VARIANT,
    MusicRule,
    dep5_file,
    mix_stems,
    rule_for,
    select_music,
    sidecar_meta,
)

SR = 8000
needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


def _tone(path: Path, seconds: float = 0.5, freq: float = 440.0, rate: int = SR,
          amp: float = 0.3) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(
        np.float32)
    sf.write(path, x, rate, format="OGG", subtype="VORBIS") if path.suffix == ".ogg" else \
        sf.write(path, x, rate)
    return x


def _touch(path: Path, data: bytes = b"x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _rels(sel, tree: Path) -> list[str]:
    return [t.source_path for t in sel.tracks]


def test_generic_rule_keeps_music_dirs_and_reports_trackers(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _tone(tree / "usr/share/games/g/music/a.ogg")
    _tone(tree / "usr/share/games/g/Music/sub/b.wav")
    _tone(tree / "usr/share/games/g/sounds/click.ogg")
    _touch(tree / "usr/share/games/g/music/theme.xm")
    _touch(tree / "usr/share/games/g/music/readme.txt")
    sel = select_music(tree, GENERIC, tmp_path / "work")
    assert _rels(sel, tree) == ["/usr/share/games/g/Music/sub/b.wav",
                                "/usr/share/games/g/music/a.ogg"]
    assert sel.skipped == {SKIP_UNDECODABLE: ["/usr/share/games/g/music/theme.xm"]}


def test_generic_rule_without_music_dir_keeps_all_audio(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _tone(tree / "usr/share/x/one.ogg")
    _tone(tree / "usr/share/x/two.mp3".replace(".mp3", ".wav"))
    assert len(select_music(tree, GENERIC, tmp_path / "w").tracks) == 2


def test_include_and_exclude_patterns(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _tone(tree / "usr/share/games/fb/snd/frozen-mainzik-1p.ogg")
    _tone(tree / "usr/share/games/fb/snd/introzik.ogg")
    _tone(tree / "usr/share/games/fb/snd/launch.ogg")
    _tone(tree / "usr/share/games/fb/snd/silence.ogg")
    rule = MusicRule(include=("usr/share/games/fb/snd/*zik*", "*/silence.ogg"),
                     exclude=("*/silence.ogg",))
    sel = select_music(tree, rule, tmp_path / "w")
    assert [t.logical.name for t in sel.tracks] == ["frozen-mainzik-1p.ogg", "introzik.ogg"]


def test_archive_members_by_pattern(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    src = tmp_path / "src"
    song = _tone(src / "song.ogg")
    pk3 = tree / "usr/share/games/nexuiz/data/music.pk3"
    pk3.parent.mkdir(parents=True)
    with zipfile.ZipFile(pk3, "w") as z:
        z.write(src / "song.ogg", "sound/cdtracks/song.ogg")
        z.write(src / "song.ogg", "sound/misc/boom.ogg")
        z.writestr("sound/cdtracks/old.mod", b"M.K.")
        z.writestr("sound/cdtracks/", b"")
    rule = MusicRule(archives=("usr/share/games/nexuiz/data/*.pk3",),
                     members=("sound/cdtracks/*",))
    sel = select_music(tree, rule, tmp_path / "work")
    [t] = sel.tracks
    assert t.source_path == "/usr/share/games/nexuiz/data/music.pk3!sound/cdtracks/song.ogg"
    assert t.logical.as_posix() == "usr/share/games/nexuiz/data/music.pk3/sound/cdtracks/song.ogg"
    assert t.path.read_bytes() == (src / "song.ogg").read_bytes()
    assert t.path.is_relative_to(tmp_path / "work")
    assert sf.read(t.path)[0].shape == song.shape
    assert sel.skipped == {
        SKIP_UNDECODABLE: ["/usr/share/games/nexuiz/data/music.pk3!sound/cdtracks/old.mod"]}


def test_archive_members_by_generic_music_dir(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    z_path = tree / "mods/public/public.zip"
    z_path.parent.mkdir(parents=True)
    _tone(tmp_path / "a.ogg")
    with zipfile.ZipFile(z_path, "w") as z:
        z.write(tmp_path / "a.ogg", "audio/music/Celtica.ogg")
        z.write(tmp_path / "a.ogg", "audio/voice/greek/hello.ogg")
        z.writestr("audio/music/album.png", b"png")
    sel = select_music(tree, MusicRule(archives=("mods/public/public.zip",)), tmp_path / "w")
    assert [t.source_path.split("!")[1] for t in sel.tracks] == ["audio/music/Celtica.ogg"]


def test_stems_of_a_song_are_mixed(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    song_dir = tree / "usr/share/games/fretsonfire/data/songs/band/Feelings"
    backing = _tone(song_dir / "song.wav", 1.0, 220.0)
    lead = _tone(song_dir / "guitar.wav", 0.5, 660.0)
    _touch(song_dir / "notes.mid", b"MThd")
    (song_dir / "song.ini").write_text("[song]\nname = Feelings\nartist = Sectoid\n")
    other = tree / "usr/share/games/fretsonfire/data/songs/band/Odd"
    _tone(other / "song.wav", 0.5, rate=SR)
    _tone(other / "guitar.wav", 0.5, rate=2 * SR)
    sel = select_music(tree, PACKAGE_RULES["fretsonfire-songs-sectoid"], tmp_path / "w")
    [t] = sel.tracks
    assert t.source_path.endswith("/songs/band/Feelings/[guitar.wav+song.wav]")
    assert t.logical.as_posix().endswith("songs/band/Feelings.flac")
    assert t.meta == {"title": "Feelings", "artist": "Sectoid"}
    mixed, rate = sf.read(t.path, dtype="float32")
    want = backing.copy()
    want[: len(lead)] += lead
    assert rate == SR and mixed.shape == want.shape
    np.testing.assert_allclose(mixed, want, atol=2 / 32768)  # 16-bit FLAC
    assert sel.skipped == {SKIP_STEM_RATES: [
        "/usr/share/games/fretsonfire/data/songs/band/Odd/[guitar.wav+song.wav]"]}


def test_mix_is_scaled_down_only_when_it_would_clip(tmp_path: Path) -> None:
    a = _tone(tmp_path / "a.wav", 0.2, 100.0, amp=0.8)
    _tone(tmp_path / "b.wav", 0.2, 100.0, amp=0.8)
    assert mix_stems([tmp_path / "a.wav", tmp_path / "b.wav"], tmp_path / "m.flac")
    mixed = sf.read(tmp_path / "m.flac", dtype="float32")[0]
    assert np.abs(mixed).max() == pytest.approx(0.999, abs=1e-3)
    np.testing.assert_allclose(mixed, a / np.abs(a).max() * 0.999, atol=1e-3)


def test_supertuxkart_fast_variants_are_left_out_and_music_files_read(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    music = tree / "usr/share/games/supertuxkart/data/music"
    _tone(music / "farm.ogg")
    _tone(music / "farm_f.ogg")
    (music / "farm.music").write_text(
        '<?xml version="1.0"?>\n<music title="Golden Fields" composer="Krobonil &amp; '
        'OzoneOne" file="farm.ogg" fast="true" fast-filename="farm_f.ogg" gain="1"/>\n')
    sel = select_music(tree, rule_for("supertuxkart-data"), tmp_path / "w")
    [t] = sel.tracks
    assert t.logical.name == "farm.ogg"
    assert t.meta == {"title": "Golden Fields", "artist": "Krobonil & OzoneOne"}
    assert sel.skipped == {SKIP_VARIANT: ["/usr/share/games/supertuxkart/data/music/farm_f.ogg"]}


def test_fish_fillets_and_wesnoth_rules(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _tone(tree / "usr/share/games/fillets-ng/music/rybky01.ogg")
    _tone(tree / "usr/share/games/fillets-ng/sound/music/en/sp-smrt.ogg")  # voice lines
    sel = select_music(tree, rule_for("fillets-ng-data"), tmp_path / "w")
    assert [t.logical.name for t in sel.tracks] == ["rybky01.ogg"]
    tree = tmp_path / "wes"
    _tone(tree / "usr/share/games/wesnoth/1.16/data/core/music/battle.ogg")
    _tone(tree / "usr/share/games/wesnoth/1.16/data/core/music/silence.ogg")
    sel = select_music(tree, rule_for("wesnoth-1.16-music"), tmp_path / "w2")
    assert [t.logical.name for t in sel.tracks] == ["battle.ogg"]


def test_every_rule_is_for_a_known_package() -> None:
    assert set(PACKAGE_RULES) <= set(REAL_PACKAGES)
    assert len(REAL_PACKAGES) == len(set(REAL_PACKAGES)) == 23
    assert rule_for("singularity-music") is GENERIC


@pytest.mark.parametrize(("name", "text", "file", "meta"), [
    ("credits.txt", "City.ogg=HSR <http://x>\nfruit.ogg=Valentin\n", "Fruit.ogg",
     {"artist": "Valentin"}),
    ("authors.txt", "Author        Work(s)\n=====\n\nK-Pone        IslandDreams, Motorway\n",
     "@Motorway.ogg", {"artist": "K-Pone"}),
    ("readme", "Music Authors List\n\nJoe T <j@x> composed:\n\trace1-jt.ogg\n\n"
     "Grady O'Connell <g@x> composed:\n\tfreezingpoint.ogg\n", "freezingpoint.ogg",
     {"artist": "Grady O'Connell"}),
    ("default.xml", '<musicTheme><song title="Robert van Herk - City Blues" '
     'filename="02 - City.ogg"/></musicTheme>', "02 - City.ogg",
     {"artist": "Robert van Herk", "title": "City Blues"}),
])
def test_sidecar_metadata(tmp_path: Path, name: str, text: str, file: str,
                          meta: dict[str, str]) -> None:
    (tmp_path / name).write_text(text)
    assert sidecar_meta(tmp_path / file) == meta
    assert sidecar_meta(tmp_path / "unknown.ogg") == {}


def test_dep5_per_file_licence_and_holder() -> None:
    text = ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
            "Files: *\nCopyright: 2010 Team\nLicense: GPL-3+\n\n"
            "Files: data/music/bay.ogg\n data/music/egypt.ogg\nCopyright: 2011, 2012 0zone0ne\n"
            "License: CC-BY-SA-3.0\n\n"
            "Files: data/music/egypt.ogg\nCopyright: Someone Else\nLicense: CC0-1.0\n")
    assert dep5_file(text, "/usr/share/games/stk/data/music/bay.ogg") == {
        "licence": "CC-BY-SA-3.0", "holder": "0zone0ne"}
    assert dep5_file(text, "/usr/share/games/stk/data/music/egypt.ogg") == {
        "licence": "CC0-1.0", "holder": "Someone Else"}
    assert dep5_file(text, "/usr/share/games/stk/data/music/other.ogg") == {}
    members = ("Files:\n base/music/David01.ogg\n base/music/van_theme.ogg\nCopyright:\n"
               " 2008 David\n 2009 Vanethian\nLicense: CC-BY-3.0\n")
    assert dep5_file(members, "/usr/share/games/ufoai/base/0music.pk3!music/van_theme.ogg") == {
        "licence": "CC-BY-3.0", "holder": ""}  # several holders: none is picked


@needs_dpkg
def test_fake_deb_with_a_pk3_keeps_member_paths_and_reports_skips(tmp_path: Path) -> None:
    pkg = "nexuiz-music"  # its rule: sound/cdtracks/* inside data/*.pk3
    tree = tmp_path / "tree"
    _tone(tmp_path / "t.ogg", 1.0)
    pk3 = tree / "usr/share/games/nexuiz/data/music.pk3"
    pk3.parent.mkdir(parents=True)
    with zipfile.ZipFile(pk3, "w") as z:
        z.write(tmp_path / "t.ogg", "sound/cdtracks/brainsukker.ogg")
        z.writestr("sound/cdtracks/tune.it", b"IMPM")
    (tree / "DEBIAN").mkdir()
    (tree / "DEBIAN/control").write_text(
        f"Package: {pkg}\nVersion: 9.9-1\nArchitecture: all\nMaintainer: T <t@example.org>\n"
        "Description: fake\n test fixture\n")
    cache = tmp_path / "debs"
    cache.mkdir()
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree),
                    str(cache / f"{pkg}_9.9-1_all.deb")], check=True, capture_output=True)
    [s] = fetch_real(tmp_path / "out", [pkg], cache_dir=cache, apt_get="/nonexistent/apt-get")
    assert (s.tracks, s.left_out) == (1, {SKIP_UNDECODABLE: 1})
    card = json.loads((tmp_path / "out" / pkg / "card.json").read_text())
    assert card["left_out_files"] == {
        SKIP_UNDECODABLE: ["/usr/share/games/nexuiz/data/music.pk3!sound/cdtracks/tune.it"]}
    manifest = (tmp_path / "out" / pkg / "manifest.csv").read_text()
    assert "audio/brainsukker.ogg,,nexuiz-music/brainsukker,1.000,brainsukker" in manifest
    assert "/usr/share/games/nexuiz/data/music.pk3!sound/cdtracks/brainsukker.ogg" in manifest
    assert (tmp_path / "out" / pkg / "audio" / "brainsukker.ogg").is_file()
    assert not (tmp_path / "out" / pkg / "extracted").exists()

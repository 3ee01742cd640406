"""Real recordings from Debian packages: a .deb built here with dpkg-deb (no network), apt
error paths, licence parsing, the CLI, and one real download (slow)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from layout.schema import ConceptSchema
from model.data.base import _load
from model.data.generic_csv import load_manifest
from model.data.real import (
    PackageNotFoundError,
    ToolUnavailableError,
    fetch_real,
    package_licence,
)
from service.cli import data as data_cli

PKG = "musicprism-fake-music"
SR = 8000
DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Fake Game

Files: debian/*
Copyright: 2024 Packager
License: GPL-2+

Files: *
Copyright: 2020 Composer
License: CC-BY-SA-4.0
 Long licence text.
"""
needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
needs_apt = pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get")


def _tone(seconds: float, freq: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def build_fake_deb(where: Path) -> Path:
    """A real .deb: two music tracks (one tagged, one titled by album.json), a sound effect
    outside music/, and a DEP-5 copyright file."""
    tree = where / "tree"
    music = tree / "usr/share/games/fake/music"
    (music / "act 2").mkdir(parents=True)
    (tree / "usr/share/games/fake/sounds").mkdir(parents=True)
    (tree / "usr/share/doc" / PKG).mkdir(parents=True)
    (tree / "DEBIAN").mkdir()
    with sf.SoundFile(music / "main_theme.ogg", "w", SR, 1, format="OGG",
                      subtype="VORBIS") as f:
        f.title, f.artist, f.album = "Main Theme", "A. Composer", "Fake OST"
        f.write(_tone(2.0, 440.0))
    sf.write(music / "act 2" / "battle_loop.ogg", _tone(1.5, 330.0), SR, format="OGG",
             subtype="VORBIS")
    (music / "act 2" / "album.json").write_text(json.dumps(
        {"tracks": [{"filename": "battle_loop.ogg", "title": "Battle!", "author": "B. Writer"}]}))
    sf.write(tree / "usr/share/games/fake/sounds/click.wav", _tone(0.1, 1000.0), SR)
    (tree / "usr/share/doc" / PKG / "copyright").write_text(DEP5)
    (tree / "DEBIAN/control").write_text(
        f"Package: {PKG}\nVersion: 1:2.0-1\nArchitecture: all\nMaintainer: T <t@example.org>\n"
        "Description: fake game music\n test fixture\n")
    deb = where / f"{PKG}_2.0-1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)],
                   check=True, capture_output=True)
    return deb


@needs_dpkg
def test_fake_deb_unpacks_into_a_loadable_manifest(tmp_path: Path) -> None:
    cache = tmp_path / "debs"
    cache.mkdir()
    build_fake_deb(cache)
    out = tmp_path / "real"
    (out / f"{PKG}.partial").mkdir(parents=True)  # debris of an interrupted run
    [summary] = fetch_real(out, [PKG], cache_dir=cache, apt_get="/nonexistent/apt-get")
    assert (summary.package, summary.version, summary.licence) == (PKG, "1:2.0-1",
                                                                   "CC-BY-SA-4.0")
    assert summary.tracks == 2 and summary.seconds == pytest.approx(3.5, abs=1e-3)
    assert not summary.skipped and not (out / f"{PKG}.partial").exists()
    pkg_dir = out / PKG
    assert sorted(p.relative_to(pkg_dir).as_posix() for p in pkg_dir.rglob("*.ogg")) == [
        "audio/act 2/battle_loop.ogg", "audio/main_theme.ogg"]
    assert not list(pkg_dir.rglob("*.wav"))  # sound effects outside music/ are left out
    assert (pkg_dir / "copyright").read_text() == DEP5
    assert summary.bytes == sum(p.stat().st_size for p in pkg_dir.rglob("*.ogg"))

    schema = ConceptSchema({"genre": ("rock",)}, facet_dim=4)
    ds = load_manifest(out / "manifest.csv", schema=schema)  # the combined manifest
    assert len(ds) == 2 and not ds.labelled.any()
    battle, theme = ds.tracks
    assert theme.metadata["title"] == "Main Theme" and theme.metadata["artist"] == "A. Composer"
    assert battle.metadata["title"] == "Battle!" and battle.metadata["artist"] == "B. Writer"
    assert theme.metadata["album"] == PKG and theme.metadata["licence"] == "CC-BY-SA-4.0"
    assert theme.metadata["source_path"] == "/usr/share/games/fake/music/main_theme.ogg"
    assert theme.track_id == f"{PKG}/main_theme" and theme.duration == pytest.approx(2.0)
    x = _load(theme.path, SR)
    spectrum = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spectrum) * SR / x.size - 440.0) < 1.0
    card = json.loads((out / "card.json").read_text())
    assert card["tracks"] == 2 and card["labelled"] == 0
    assert card["packages"][0]["licence"] == "CC-BY-SA-4.0"

    stamp = (pkg_dir / "manifest.csv").stat().st_mtime_ns
    [again] = fetch_real(out, [PKG], cache_dir=cache, apt_get="/nonexistent/apt-get")
    assert again.skipped and again.tracks == 2
    assert (pkg_dir / "manifest.csv").stat().st_mtime_ns == stamp


@needs_dpkg
def test_cli_real_subcommand(tmp_path: Path, capsys) -> None:
    cache = tmp_path / "debs"
    cache.mkdir()
    build_fake_deb(cache)
    parser = argparse.ArgumentParser(prog="musicprism")
    data_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dataset", "real", "--packages", PKG, "--out", str(tmp_path / "r"),
                              "--cache", str(cache)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert PKG in out and "2 tracks" in out and "CC-BY-SA-4.0" in out
    assert (tmp_path / "r" / PKG / "manifest.csv").is_file()
    defaults = parser.parse_args(["dataset", "real"])
    assert "wesnoth-1.16-music" in defaults.packages and defaults.out is None
    assert len(defaults.packages) == 4
    every = parser.parse_args(["dataset", "real", "--all"])
    assert len(every.packages) == 23 and "0ad-data" in every.packages


def test_missing_apt_get_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolUnavailableError, match="/nonexistent/apt-get"):
        fetch_real(tmp_path, ["singularity-music"], apt_get="/nonexistent/apt-get")


@needs_apt
def test_unknown_package_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PackageNotFoundError) as e:
        fetch_real(tmp_path, ["musicprism-no-such-package-xyz"])
    assert e.value.package == "musicprism-no-such-package-xyz"
    assert "Unable to locate package" in str(e.value)


@needs_dpkg
def test_cli_reports_a_broken_deb_and_exits_1(tmp_path: Path, capsys) -> None:
    (tmp_path / f"{PKG}_1.0_all.deb").write_bytes(b"!<arch>\nnot really a deb")
    parser = argparse.ArgumentParser()
    data_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dataset", "real", "--packages", PKG, "--out",
                              str(tmp_path / "r"), "--cache", str(tmp_path)])
    assert args.func(args) == 1
    assert "dpkg-deb" in capsys.readouterr().err
    assert not (tmp_path / "r" / PKG).exists()


@pytest.mark.parametrize("text, licence", [
    ("License:\n  This program is free software; you can redistribute it under the terms of"
     " the GNU General Public License version 2\n  or at your option any later version.",
     "GPL-2+"),
    ("under the GNU General Public License, version 3 as published by the FSF.", "GPL-3"),
    ("THE WORK IS PROVIDED UNDER THE TERMS OF THIS CREATIVE COMMONS PUBLIC LICENSE ... "
     "(e.g., Attribution-ShareAlike 3.0 US)", "CC-BY-SA-3.0"),
    ("see http://creativecommons.org/licenses/by/4.0/ for details", "CC-BY-4.0"),
    ("All rights reserved.", "unknown"),
])
def test_free_form_copyright_licences(tmp_path: Path, text: str, licence: str) -> None:
    (tmp_path / "copyright").write_text("This package was debianized by someone.\n\n" + text)
    assert package_licence(tmp_path / "copyright") == licence


def test_dep5_licence_falls_back_to_first_files_paragraph(tmp_path: Path) -> None:
    (tmp_path / "c").write_text(DEP5.replace("Files: *", "Files: music/*"))
    assert package_licence(tmp_path / "c") == "GPL-2+"
    (tmp_path / "d").write_text(DEP5)
    assert package_licence(tmp_path / "d") == "CC-BY-SA-4.0"
    assert package_licence(tmp_path / "absent") == "unknown"


@pytest.mark.slow
@needs_apt
def test_real_download_of_singularity_music(tmp_path: Path) -> None:
    """apt-get download of the smallest package (52 MB); fails if the mirror is unreachable."""
    [s] = fetch_real(tmp_path, ["singularity-music"])
    assert s.tracks == 16 and s.licence == "CC-BY-SA-3.0" and s.seconds > 3000
    ds = load_manifest(tmp_path / "manifest.csv",
                       schema=ConceptSchema({"genre": ("rock",)}, facet_dim=4))
    assert len(ds) == 16 and all(t.duration and t.duration > 10 for t in ds)
    assert all(t.metadata["artist"] == "Maxstack" for t in ds)
    assert os.path.getsize(next(tmp_path.glob("singularity-music/audio/*.ogg"))) > 100_000

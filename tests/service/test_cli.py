"""The command line: ingest (recursive, resumable, reports skips), reindex, migrate, refusals."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from service.cli import main
from service.db import current_revision, head_revision
from support.audio import encode
from tests.service.conftest import SR, song
from tests.utils.models import tiny_checkpoint


@pytest.fixture
def env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings for the CLI come from the environment, as in production."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MUSICPRISM_MODEL_PATH", str(tiny_checkpoint(tmp_path / "model.pt")))
    monkeypatch.setenv("MUSICPRISM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MUSICPRISM_MIN_AUDIO_SECONDS", "0.5")
    return tmp_path


def music_folder(root: Path) -> Path:
    """Five real files in nested folders, plus things that must be skipped."""
    lib = root / "library"
    (lib / "a" / "b").mkdir(parents=True)
    (lib / "c").mkdir()
    (lib / "a" / "one.wav").write_bytes(encode(song("one"), SR, "wav"))
    (lib / "a" / "b" / "two.flac").write_bytes(encode(song("two"), SR, "flac"))
    (lib / "a" / "b" / "three.mp3").write_bytes(encode(song("three"), SR, "mp3"))
    (lib / "c" / "four.ogg").write_bytes(encode(song("four"), SR, "ogg"))
    (lib / "c" / "copy-of-one.wav").write_bytes(encode(song("one"), SR, "wav"))
    (lib / "c" / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    (lib / "c" / "silence.wav").write_bytes(encode(np.zeros(SR, np.float32), SR, "wav"))
    (lib / "notes.txt").write_text("not audio")
    outside = root / "outside.wav"
    outside.write_bytes(encode(song("outside"), SR, "wav"))
    (lib / "c" / "link.wav").symlink_to(outside)
    return lib


def test_ingest_folder_is_recursive_reports_skips_and_resumes(env: Path, capsys):
    lib = music_folder(env)
    meta = env / "meta.csv"
    with open(meta, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "title", "artist", "album", "external_id"])
        w.writerow(["a/one.wav", "One", "Ann", "First", "ID-1"])
    assert main(["ingest", str(lib), "--metadata", str(meta), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "4 added; 1 already in the catalogue; 3 skipped "
        "(1 AudioDecodeError, 1 SilentAudio, 1 outside the ingest root)"
    )
    assert "skipped c/broken.wav: AudioDecodeError: cannot decode audio" in out
    assert f"skipped {lib / 'c' / 'link.wav'}: outside the ingest root" in out

    # Resumable: a second run re-embeds nothing and adds nothing.
    assert main(["ingest", str(lib), "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("0 added; 5 already in the catalogue")

    from service.app import build_catalog
    from service.settings import Settings

    catalog = build_catalog(Settings())
    catalog.open()
    try:
        total, tracks = catalog.queries.list_tracks(offset=0, limit=10)
        assert total == 4 == len(catalog.indexes)
        one = next(t for t in tracks if t.external_id == "ID-1")
        assert (one.title, one.artist, one.album, one.source) == (
            "One",
            "Ann",
            "First",
            "a/one.wav",
        )
        assert {t.title for t in tracks} >= {"two", "three", "four"}
    finally:
        catalog.close()


def test_ingest_refuses_paths_outside_the_ingest_root(env: Path, monkeypatch, capsys):
    lib = music_folder(env)
    monkeypatch.setenv("MUSICPRISM_INGEST_ROOT", str(lib / "a"))
    assert main(["ingest", str(lib), "--quiet"]) == 1
    assert "is outside the ingest root" in capsys.readouterr().err
    meta = env / "evil.csv"
    meta.write_text("path,title\n../../outside.wav,x\n")
    monkeypatch.delenv("MUSICPRISM_INGEST_ROOT")
    assert main(["ingest", str(lib), "--metadata", str(meta), "--quiet"]) == 1
    assert "'../../outside.wav' is outside the ingest root" in capsys.readouterr().err


def test_ingest_bad_arguments(env: Path, capsys):
    assert main(["ingest", str(env / "nope"), "--quiet"]) == 1
    assert "is not a folder" in capsys.readouterr().err
    lib = music_folder(env)
    bad = env / "bad.csv"
    bad.write_text("file,title\nx,y\n")
    assert main(["ingest", str(lib), "--metadata", str(bad), "--quiet"]) == 1
    assert "needs a 'path' column" in capsys.readouterr().err


def test_reindex_rebuilds_from_the_store(env: Path, capsys):
    lib = music_folder(env)
    assert main(["ingest", str(lib), "--quiet"]) == 0
    capsys.readouterr()
    for snap in (env / "data" / "indexes").rglob("*.faiss"):
        snap.unlink()  # indexes are derived: losing them loses nothing
    assert main(["reindex"]) == 0
    assert capsys.readouterr().out == "rebuilt indexes from the store: 4 tracks\n"


def test_invalid_setting_is_a_clear_error(env: Path, monkeypatch, capsys):
    monkeypatch.setenv("MUSICPRISM_MAX_K", "lots")
    assert main(["reindex"]) == 2
    assert "invalid setting max_k" in capsys.readouterr().err


def test_misspelt_setting_is_refused(env: Path, monkeypatch, capsys):
    monkeypatch.setenv("MUSICPRISM_MAX_KK", "3")
    assert main(["reindex"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("musicprism: unknown setting(s) MUSICPRISM_MAX_KK in the environment")
    assert "MUSICPRISM_MAX_K," in err


def test_migrate(tmp_path: Path, empty_database_url: str, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    assert current_revision(empty_database_url) is None
    assert main(["migrate"]) == 0
    assert current_revision(empty_database_url) == head_revision()


def test_migrate_downgrade_then_upgrade_again(empty_database_url: str, monkeypatch):
    """The documented way back from an upgrade: ``migrate --downgrade 0001``, then forward."""
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    assert main(["migrate"]) == 0
    assert head_revision() != "0001"
    assert main(["migrate", "--downgrade", "0001"]) == 0
    assert current_revision(empty_database_url) == "0001"
    assert main(["migrate"]) == 0
    assert current_revision(empty_database_url) == head_revision()


def test_serving_an_unmigrated_database_is_refused(tmp_path: Path, empty_database_url: str):
    from service.app import build_catalog
    from service.db import DatabaseNotMigrated
    from service.settings import Settings

    settings = Settings(
        database_url=empty_database_url,
        data_dir=tmp_path,
        model_path=tiny_checkpoint(tmp_path / "m.pt"),
    )
    with pytest.raises(DatabaseNotMigrated, match="run `musicprism migrate`"):
        build_catalog(settings)


def test_a_training_command_without_the_training_extras_says_what_to_install(
    monkeypatch, capsys
):
    import builtins

    real_import = builtins.__import__

    def no_music21(name, *args, **kwargs):
        if name.split(".")[0] == "music21":
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_music21)
    monkeypatch.setattr("service.cli.command_groups", lambda: [_needs_music21])
    assert main(["needs-music21"]) == 1
    err = capsys.readouterr().err
    assert "'needs-music21' needs the training extras (music21 is not installed)" in err
    assert "pip install 'musicprism[train]'" in err


def _needs_music21(subparsers) -> None:
    def run(_args) -> int:
        import music21  # noqa: F401

        return 0

    subparsers.add_parser("needs-music21").set_defaults(func=run)


def test_other_missing_modules_are_not_blamed_on_the_extras(monkeypatch):
    def run(_args) -> int:
        raise ModuleNotFoundError("No module named 'faiss'", name="faiss")

    monkeypatch.setattr("service.cli.command_groups",
                        lambda: [lambda sub: sub.add_parser("x").set_defaults(func=run)])
    with pytest.raises(ModuleNotFoundError, match="faiss"):
        main(["x"])


@pytest.mark.parametrize("value", ["1_0", "\u0661\u0660", "inf", "10 0"])
def test_numbers_in_the_environment_follow_the_api_grammar(env: Path, monkeypatch, capsys,
                                                           value: str):
    monkeypatch.setenv("MUSICPRISM_MAX_K", value)
    assert main(["reindex"]) == 2
    err = capsys.readouterr().err
    assert f"invalid setting max_k: {value!r} is not an integer in ASCII digits" in err


@pytest.mark.parametrize("processes", ["1", "2"])
def test_ingest_in_processes_stores_what_the_catalogue_computes(env: Path, capsys,
                                                               processes: str):
    """Worker processes (service/ingest_pool.py) store the same vectors, tag scores and
    fingerprints as the catalogue's own decode, embed and fingerprint of each file."""
    lib = music_folder(env)
    assert main(["ingest", str(lib), "--quiet", "--processes", processes]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "4 added; 1 already in the catalogue; 3 skipped "
        "(1 AudioDecodeError, 1 SilentAudio, 1 outside the ingest root)"
    )
    from service.app import build_catalog
    from service.settings import Settings
    from tests.utils.db import count_rows

    catalog = build_catalog(Settings())
    catalog.open()
    try:
        _, tracks = catalog.queries.list_tracks(offset=0, limit=10)
        assert len(tracks) == 4 == len(catalog.indexes)
        for track in tracks:
            decoded = catalog.recordings.decode(lib / track.source)
            want = catalog.recordings.embed(decoded.samples)
            np.testing.assert_array_equal(catalog.queries.vector_of(track.id), want.vector)
            fp = catalog.recordings.fingerprint(decoded.samples)
            with catalog.binding.session() as session:
                stored = count_rows(session, "fingerprint_hashes", track_id=track.id)
            assert stored == len(fp.hashes) > 0
            assert track.duration_seconds == pytest.approx(decoded.duration)
    finally:
        catalog.close()


@pytest.mark.parametrize("value", ["0", "-3"])
def test_ingest_refuses_fewer_than_one_process(env: Path, capsys, value: str):
    lib = music_folder(env)
    assert main(["ingest", str(lib), "--quiet", "--processes", value]) == 2
    assert f"--processes must be at least 1, got {value}" in capsys.readouterr().err

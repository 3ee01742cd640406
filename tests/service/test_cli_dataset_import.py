"""``musicprism dataset import``: tiny MTG-Jamendo, MagnaTagATune and MSD layouts written here
become generic manifests that load and decode; malformed, empty and hostile inputs give exit
code 1 and a message naming the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from model.audio import decode
from model.data.generic_csv import load_manifest, read_concepts
from service.cli import main
from support.audio import synth_music

SR = 16_000
HEADER = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"
JAMENDO = {  # split file -> rows (id, path, tags)
    "train": [("track_0000214", "14/214.mp3", "genre---rock\tinstrument---guitar"),
              ("track_0000948", "48/948.mp3", "genre---pop\tmood/theme---happy")],
    "validation": [("track_0001049", "49/1049.mp3", "genre---rock")],
    "test": [("track_0002634", "34/2634.mp3", "mood/theme---happy\tinstrument---guitar")],
}


def _audio(path: Path, seed: int, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, synth_music(1.0, SR, seed=seed), SR, format=fmt)


def jamendo_layout(root: Path, rows: dict = JAMENDO, audio: bool = True) -> tuple[Path, Path]:
    splits, music = root / "splits" / "split-0", root / "music"
    splits.mkdir(parents=True)
    music.mkdir()
    for k, (name, entries) in enumerate(rows.items()):
        lines = [HEADER] + [f"{tid}\tartist_1\talbum_1\t{p}\t1.0\t{tags}"
                            for tid, p, tags in entries]
        (splits / f"autotagging_top50tags-{name}.tsv").write_text("\n".join(lines) + "\n")
        for j, (_, p, _) in enumerate(entries):
            if audio and ".." not in p:
                _audio(music / p, 10 * k + j, "MP3")
    return splits.parent, music


def _run(*argv: object) -> int:
    return main(["dataset", "import", *map(str, argv)])


def test_jamendo_becomes_a_generic_manifest(tmp_path, capsys):
    splits, music = jamendo_layout(tmp_path)
    assert _run("jamendo", "--splits", splits, "--audio", music) == 0
    out = capsys.readouterr().out
    assert "4 clips (1 test, 2 train, 1 val)" in out
    ds = load_manifest(music)  # the generic loader reads it, files checked
    assert read_concepts(music / "concepts.json") == {
        "genre": ("pop", "rock"), "mood": ("happy",), "instrument": ("guitar",)}
    got = {t.track_id: (t.split, t.tags, t.duration, t.metadata["artist_id"]) for t in ds}
    assert got == {"track_0000214": ("train", ("rock", "guitar"), 1.0, "artist_1"),
                   "track_0000948": ("train", ("pop", "happy"), 1.0, "artist_1"),
                   "track_0001049": ("val", ("rock",), 1.0, "artist_1"),
                   "track_0002634": ("test", ("happy", "guitar"), 1.0, "artist_1")}
    assert ds[0].path == (music / "14" / "214.mp3").resolve()
    assert decode(ds[0].path, sample_rate=SR).duration == pytest.approx(1.0, abs=0.1)
    card = json.loads((music / "card.json").read_text())
    assert card["source"] == "MTG-Jamendo" and card["import"]["written"]["train"] == 2
    # a second run refuses to overwrite without --force
    assert _run("jamendo", "--splits", splits, "--audio", music) == 1
    assert "exists; pass overwrite" in capsys.readouterr().err
    assert _run("jamendo", "--splits", splits, "--audio", music, "--force") == 0


def test_magnatagatune_folder_split(tmp_path, capsys):
    music = tmp_path / "mtat"
    names = ["0/a-b-01-x-0-29.mp3", "0/a-b-01-x-30-59.mp3", "c/c-d-02-y-0-29.mp3",
             "d/e-f-03-z-0-29.mp3", "e/g-h-04-w-0-29.mp3"]
    labels = ["1\t1\t0", "1\t0\t0", "0\t1\t1", "0\t0\t1", "0\t0\t0"]  # piano, rock, slow
    lines = ['"clip_id"\t"piano"\t"rock"\t"slow"\t"mp3_path"']
    lines += [f'"{i}"\t{lab}\t"{n}"' for i, (lab, n) in enumerate(zip(labels, names,
                                                                       strict=True))]
    ann = tmp_path / "annotations_final.csv"
    ann.write_text("\n".join(lines) + "\n")
    for k, n in enumerate(names):
        _audio(music / n, k, "MP3")
    assert _run("magnatagatune", "--annotations", ann, "--audio", music, "--top-k", "3") == 0
    ds = load_manifest(music)
    assert [(t.split, t.tags, t.track_id) for t in ds] == [
        ("train", ("rock", "piano"), "a-b-01-x"), ("train", ("piano",), "a-b-01-x"),
        ("val", ("rock", "slow"), "c-d-02-y"), ("test", ("slow",), "e-f-03-z")]
    assert "4 clips (1 test, 2 train, 1 val)" in capsys.readouterr().out  # untagged left out


def test_msd_with_lists_and_an_unlabelled_id(tmp_path, capsys):
    music = tmp_path / "msd"
    (tmp_path / "tags.csv").write_text("msd_id,tags\nTRA1,rock;seen live\nTRA2,Mellow;00s\n"
                                       "TRA3,seen live\n")
    for name, ids in {"train": "TRA1\nTRA4\n", "val": "TRA2\n", "test": "TRA3\n"}.items():
        (tmp_path / f"{name}.txt").write_text(ids)
    for k, i in enumerate(("TRA1", "TRA2", "TRA3", "TRA4")):
        _audio(music / f"{i}.wav", k)
    assert _run("msd", "--tags", tmp_path / "tags.csv", "--audio", music,
                "--train", tmp_path / "train.txt", "--val", tmp_path / "val.txt",
                "--test", tmp_path / "test.txt", "--path-pattern", "{msd_id}.wav") == 0
    out = capsys.readouterr().out
    assert "1 labelled clip(s) have none of the kept tags" in out  # TRA3: only 'seen live'
    ds = load_manifest(music)
    assert {t.track_id: (t.split, t.tags, t.labelled) for t in ds} == {
        "TRA1": ("train", ("rock",), True), "TRA4": ("train", (), False),
        "TRA2": ("val", ("Mellow", "00s"), True), "TRA3": ("test", (), False)}
    assert len(read_concepts(music / "concepts.json")["genre"]) == 28  # the MSD-50 schema


def test_missing_audio_fails_unless_skipped(tmp_path, capsys):
    splits, music = jamendo_layout(tmp_path)
    (music / "48" / "948.mp3").unlink()
    assert _run("jamendo", "--splits", splits, "--audio", music) == 1
    err = capsys.readouterr().err
    assert "dataset import jamendo: 1 audio file(s) missing" in err and "948.mp3" in err
    assert not (music / "manifest.csv").exists()
    assert _run("jamendo", "--splits", splits, "--audio", music, "--skip-missing") == 0
    assert "left out 1 clip(s) with missing audio" in capsys.readouterr().out
    assert len(load_manifest(music)) == 3


def test_path_traversal_is_refused(tmp_path, capsys):
    (tmp_path / "outside.mp3").write_bytes(b"x")
    rows = {**JAMENDO, "test": [("track_9", "../outside.mp3", "genre---rock")]}
    splits, music = jamendo_layout(tmp_path, rows)
    assert _run("jamendo", "--splits", splits, "--audio", music) == 1
    err = capsys.readouterr().err
    assert "audio path '../outside.mp3' resolves outside" in err
    assert not (music / "manifest.csv").exists()


def test_out_must_hold_the_audio(tmp_path, capsys):
    splits, music = jamendo_layout(tmp_path)
    assert _run("jamendo", "--splits", splits, "--audio", music, "--out",
                tmp_path / "elsewhere") == 1
    assert "is not inside the output folder" in capsys.readouterr().err
    assert _run("jamendo", "--splits", splits, "--audio", music, "--out", tmp_path) == 0
    assert load_manifest(tmp_path)[0].path == (music / "14" / "214.mp3").resolve()


@pytest.mark.parametrize("case", ["bad-header", "short-row", "no-splits", "no-audio-dir"])
def test_malformed_jamendo_input(tmp_path, capsys, case):
    splits, music = jamendo_layout(tmp_path)
    train = splits / "split-0" / "autotagging_top50tags-train.tsv"
    if case == "bad-header":
        train.write_text("id,path\n1,a.mp3\n")
    elif case == "short-row":
        train.write_text(HEADER + "\ntrack_1\tartist\n")
    elif case == "no-splits":
        train.unlink()
    audio = tmp_path / "nope" if case == "no-audio-dir" else music
    assert _run("jamendo", "--splits", splits, "--audio", audio) == 1
    err = capsys.readouterr().err
    assert {"bad-header": "header must start with ('TRACK_ID'",
            "short-row": "autotagging_top50tags-train.tsv:2: expected >= 5",
            "no-splits": "missing MTG-Jamendo split file(s)",
            "no-audio-dir": "is not a folder"}[case] in err


@pytest.mark.parametrize("case", ["ragged", "binary", "missing"])
def test_malformed_magnatagatune_annotations(tmp_path, capsys, case):
    ann = tmp_path / "annotations_final.csv"
    if case == "ragged":
        ann.write_text('"clip_id"\t"rock"\t"mp3_path"\n"1"\t"1"\n')
    elif case == "binary":
        ann.write_bytes(b"\xff\xfe\x00garbage\x9c")
    (tmp_path / "mtat").mkdir()
    assert _run("magnatagatune", "--annotations", ann, "--audio", tmp_path / "mtat") == 1
    err = capsys.readouterr().err
    assert err.startswith("musicprism: dataset import magnatagatune: ")
    assert {"ragged": "annotations_final.csv", "binary": "UnicodeDecodeError",
            "missing": "FileNotFoundError"}[case] in err


def test_empty_or_bad_msd_input(tmp_path, capsys):
    music = tmp_path / "msd"
    music.mkdir()
    (tmp_path / "tags.csv").write_text("id,labels\nTRA1,rock\n")
    (tmp_path / "train.txt").write_text("")
    args = ["msd", "--tags", tmp_path / "tags.csv", "--audio", music,
            "--train", tmp_path / "train.txt"]
    assert _run(*args) == 1
    assert "needs columns msd_id and tags" in capsys.readouterr().err
    (tmp_path / "tags.csv").write_text("msd_id,tags\nTRA1,rock\n")
    assert _run(*args) == 1
    assert "nothing to import" in capsys.readouterr().err
    (tmp_path / "train.pkl").write_bytes(b"\x80\x04")
    assert _run("msd", "--tags", tmp_path / "tags.csv", "--audio", music,
                "--train", tmp_path / "train.pkl") == 1
    assert "is a pickle, which is not loaded" in capsys.readouterr().err

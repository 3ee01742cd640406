"""``musicprism export`` and ``import`` on SQLite and PostgreSQL: the round trip through the
command line, then malformed, empty, huge and hostile files, each refused with a message that
names the problem (and the row), leaving the catalogue as it was."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from service.cli import main
from support.audio import encode
from tests.service.conftest import SR, song
from tests.utils.models import tiny_checkpoint

SONGS = ("one", "two", "three")


@pytest.fixture
def env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings from the environment, as in production (tests/service/test_cli.py)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MUSICPRISM_MODEL_PATH", str(tiny_checkpoint(tmp_path / "model.pt")))
    monkeypatch.setenv("MUSICPRISM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MUSICPRISM_MIN_AUDIO_SECONDS", "0.5")
    return tmp_path


@pytest.fixture
def exported(env: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Three real tracks ingested into instance A, exported to a.parquet."""
    lib = env / "library"
    lib.mkdir()
    for name in SONGS:
        (lib / f"{name}.flac").write_bytes(encode(song(name), SR, "flac"))
    assert main(["ingest", str(lib), "--quiet", "--processes", "1"]) == 0
    assert main(["export", str(env / "a.parquet"), "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()[-1]
    assert out.startswith(f"exported 3 tracks (3 with fingerprints) to {env / 'a.parquet'}")
    return env / "a.parquet"


@pytest.fixture
def into_b(env: Path, other_url: str, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``musicprism import FILE`` into instance B: (exit code, stdout, stderr)."""
    def run(path: Path, *flags: str) -> tuple[int, str, str]:
        monkeypatch.setenv("DATABASE_URL", other_url)
        code = main(["import", str(path), "--quiet", "--data-dir", str(env / "b"), *flags])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


def b_tracks(env: Path, other_url: str) -> list[tuple[str, str | None]]:
    """(content hash, title) of B's tracks."""
    from sqlalchemy import create_engine, text
    engine = create_engine(other_url)
    with engine.connect() as c:
        rows = c.execute(text("SELECT content_hash, title FROM tracks ORDER BY id")).all()
    engine.dispose()
    return [(h, t) for h, t in rows]


def rewrite(src: Path, dst: Path, **columns: pa.Array) -> Path:
    """``src`` with some columns replaced, the header kept."""
    table = pq.read_table(src)
    for name, values in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, values)
    pq.write_table(table.replace_schema_metadata(pq.read_schema(src).metadata), dst)
    return dst


def test_the_round_trip_through_the_command_line(exported: Path, into_b, env: Path,
                                                 other_url: str) -> None:
    code, out, _ = into_b(exported, "--id-map", str(env / "ids.csv"))
    assert code == 0
    assert out.strip() == (f"imported {exported}: 3 rows; 3 tracks added, 0 given vectors, "
                           "0 already in the catalogue")
    with open(env / "ids.csv") as f:
        ids = list(csv.reader(f))
    assert ids[0] == ["source_id", "track_id"] and len(ids) == 4
    source = pq.read_table(exported, columns=["content_hash", "title"]).to_pylist()
    assert sorted(b_tracks(env, other_url)) == sorted((r["content_hash"], r["title"])
                                                      for r in source)
    code, out, _ = into_b(exported)
    assert code == 0 and "0 tracks added, 0 given vectors, 3 already in the catalogue" in out
    assert len(b_tracks(env, other_url)) == 3


def test_export_refusals(exported: Path, env: Path, capsys) -> None:
    before = exported.read_bytes()
    assert main(["export", str(exported), "--quiet"]) == 1
    assert "exists; pass --force to replace it" in capsys.readouterr().err
    assert exported.read_bytes() == before
    assert main(["export", str(env / "missing" / "x.parquet"), "--quiet"]) == 1
    assert "No such file or directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["export"])
    assert exit_.value.code == 2


def _vectors(rows: list[list[float]]) -> pa.Array:
    return pa.array(rows, pa.list_(pa.float32()))


BAD_FILES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "not parquet": (lambda a, d: _write(d, b"title,artist\nOne,Ann\n"), "is not a Parquet file"),
    "empty": (lambda a, d: _write(d, b""), "is not a Parquet file"),
    "plain parquet": (lambda a, d: _plain(d), "not a musicprism catalogue (no 'musicprism'"),
    "missing column": (
        lambda a, d: _dropped(a, d, "vector"), "lacks the column(s) vector; a catalogue file has"),
    "mistyped column": (
        lambda a, d: rewrite(a, d, content_hash=pa.array([1, 2, 3])),
        "column 'content_hash' must hold string, got int64"),
    "short vector": (
        lambda a, d: rewrite(a, d, vector=_vectors(_rows(a, "vector", 1, lambda v: v[:-1]))),
        "row 1 (source track 2): vector has 31 values; the model's vectors have 32"),
    "huge vector": (
        lambda a, d: rewrite(a, d, vector=_vectors(_rows(a, "vector", 2, lambda v: v * 40000))),
        "row 2 (source track 3): vector has 1280000 values"),
    "NaN vector": (
        lambda a, d: rewrite(a, d, vector=_vectors(_rows(a, "vector", 2,
                                                         lambda v: [np.nan] + v[1:]))),
        "row 2 (source track 3): vector holds a missing, NaN or infinite value"),
    "infinite window": (
        lambda a, d: rewrite(a, d, windows=pa.array(
            _rows(a, "windows", 1, lambda w: [w[0], [np.inf] + w[1][1:], *w[2:]]),
            pa.list_(pa.list_(pa.float32())))),
        "row 1 (source track 2): windows holds a missing, NaN or infinite value"),
    "huge title": (
        lambda a, d: rewrite(a, d, title=pa.array(["x" * 10_000_000, "two", "three"])),
        "row 0 (source track 1): invalid title 'xxxx"),
    "NUL in artist": (
        lambda a, d: rewrite(a, d, artist=pa.array([None, None, "Ann\x00; DROP TABLE tracks"])),
        "row 2 (source track 3): invalid artist 'Ann\\x00; DROP TABLE tracks': contains a NUL"),
    "bad hash": (
        lambda a, d: rewrite(a, d, content_hash=pa.array(["../../etc/passwd", "a", "b"])),
        "row 0 (source track 1): invalid content hash '../../etc/passwd': must be 64 "
        "hexadecimal digits"),
    "duplicate hash": (
        lambda a, d: rewrite(a, d, content_hash=pa.array(
            [pq.read_table(a)["content_hash"][0].as_py()] * 3)),
        "row 1 (source track 2): content hash"),
    "newer format": (lambda a, d: _header(a, d, format_version=99),
                     "has catalogue format version 99; this musicprism reads version 1"),
    "other format": (lambda a, d: _header(a, d, format="musicprism-checkpoint"),
                     "not a musicprism catalogue (format 'musicprism-checkpoint'"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _plain(path: Path) -> Path:
    pq.write_table(pa.table({"title": ["One"]}), path)
    return path


def _dropped(src: Path, dst: Path, column: str) -> Path:
    table = pq.read_table(src)
    pq.write_table(table.drop_columns([column]), dst)
    return dst


def _rows(src: Path, column: str, row: int, change: Callable[[list], list]) -> list[list]:
    values = pq.read_table(src)[column].to_pylist()
    values[row] = change(values[row])
    return values


def _header(src: Path, dst: Path, **changes: object) -> Path:
    table = pq.read_table(src)
    header = json.loads(table.schema.metadata[b"musicprism"]) | changes
    pq.write_table(table.replace_schema_metadata({b"musicprism": json.dumps(header)}), dst)
    return dst


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_are_refused_and_nothing_is_imported(case: str, exported: Path, into_b,
                                                       env: Path, other_url: str
                                                       ) -> None:
    make, message = BAD_FILES[case]
    bad = make(exported, env / "bad.parquet")
    code, out, err = into_b(bad)
    assert code == 1 and out == ""
    assert message in err and err.rstrip().endswith("nothing was imported"), err
    assert b_tracks(env, other_url) == []  # the bad row is the last one for several cases


def test_control_characters_are_kept_and_a_file_of_no_rows_adds_nothing(
        exported: Path, into_b, env: Path, other_url: str) -> None:
    odd = "\x07bell \x1b[31mred\x1b[0m\ttab\r\nline \u202eevil\U0001f3b5"
    code, _, err = into_b(rewrite(exported, env / "odd.parquet",
                                  title=pa.array([odd, "x" * 500, None])))
    assert code == 0, err
    titles = [t for _, t in b_tracks(env, other_url)]
    assert sorted(titles, key=str) == sorted([odd, "x" * 500, None], key=str)
    table = pq.read_table(exported)
    pq.write_table(table.slice(0, 0), env / "none.parquet")
    code, out, _ = into_b(env / "none.parquet")
    assert code == 0 and "0 rows; 0 tracks added" in out and len(b_tracks(env, other_url)) == 3


def test_a_missing_file_is_an_error(env: Path, capsys) -> None:
    assert main(["import", str(env / "nowhere.parquet"), "--quiet"]) == 1
    assert f"{env / 'nowhere.parquet'} is not a file" in capsys.readouterr().err
    assert main(["import", str(env), "--quiet"]) == 1

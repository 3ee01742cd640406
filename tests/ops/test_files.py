"""The readers in tests/ops/files.py, on hand-written cases (they judge the real files)."""

from __future__ import annotations

import pytest

from tests.ops.files import (
    MissingVariable,
    dockerignore_patterns,
    expand_args,
    interpolate,
    is_ignored,
    parse_dockerfile,
    variables,
)

ENV = {"SET": "v", "EMPTY": ""}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("$SET/${SET}", "v/v"),
        ("${UNSET}|$UNSET|${EMPTY}", "||"),
        ("${UNSET:-d} ${EMPTY:-d} ${SET:-d}", "d d v"),
        ("${UNSET-d} ${EMPTY-d} ${SET-d}", "d  v"),
        ("$$SET $${SET} $$$SET", "$SET ${SET} $v"),
        ("${EMPTY?fine when set, even empty}", ""),
        ("a:${UNSET:-x:y}@b", "a:x:y@b"),
    ],
)
def test_interpolate(text: str, expected: str) -> None:
    assert interpolate(text, ENV) == expected


@pytest.mark.parametrize("text, name", [("${UNSET:?set it}", "UNSET"), ("${EMPTY:?no}", "EMPTY"),
                                        ("${UNSET?x}", "UNSET")])
def test_interpolate_required(text: str, name: str) -> None:
    with pytest.raises(MissingVariable) as info:
        interpolate(text, ENV)
    assert info.value.name == name


def test_variables() -> None:
    assert variables("${A:?x} $B ${C:-d} $${D} ${A}") == {"A": ":?", "B": None, "C": ":-"}


def test_dockerignore_matching() -> None:
    patterns = dockerignore_patterns("# c\ndata\n**/*.pyc\n/docs/\n*.md\n!README.md\nx/*/y\n")
    cases = {
        "data": True, "data/a/b.wav": True, "model/data/x.py": False,
        "a/b/c.pyc": True, "c.pyc": True, "docs/index.md": True,
        "NOTES.md": True, "README.md": False, "model/README.md": False,
        "x/1/y": True, "x/1/2/y": False, "service/app.py": False,
    }
    assert {p: is_ignored(p, patterns) for p in cases} == cases


def test_parse_dockerfile() -> None:
    text = (
        "# syntax=docker/dockerfile:1\nARG BASE=python:3.11-slim\n"
        "FROM ${BASE} AS one\nRUN a \\\n  # a comment inside\n  && b\n"
        "ENV A=1 B=\"two words\"\nENV LEGACY value here\n"
        "FROM one\nCMD [\"x\", \"y\"]\nENTRYPOINT run it\n"
    )
    args, stages = parse_dockerfile(text)
    assert args == {"BASE": "python:3.11-slim"}
    assert [(expand_args(s.base, args), s.name) for s in stages] == [
        ("python:3.11-slim", "one"), ("one", None)]
    assert [i.args for i in stages[0].all("RUN")] == ["a  && b"]
    assert stages[0].env() == {"A": "1", "B": "two words", "LEGACY": "value here"}
    assert stages[1].last("CMD").exec_form() == ["x", "y"]
    assert stages[1].last("ENTRYPOINT").exec_form() is None
    with pytest.raises(ValueError, match="before the first FROM"):
        parse_dockerfile("RUN x\nFROM y\n")
    with pytest.raises(ValueError, match="line continuation"):
        parse_dockerfile("FROM y\nRUN x \\\n")

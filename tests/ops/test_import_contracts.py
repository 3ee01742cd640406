"""``make lint``'s import contracts (import-linter, configured in pyproject.toml): the tree keeps
them, and a forbidden import breaks them (checked on a copy of the tree with one added)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("service", "index", "model", "layout", "support", "benchmarks", "tests")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages' Python files and pyproject.toml, copied."""
    root = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", root)
    def not_code(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n == "__pycache__"
                or not (n.endswith(".py") or (Path(folder) / n).is_dir())]

    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=not_code)
    return root


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    done = lint_imports(tree)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "5 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(("probe", "statement", "contract"), [
    ("model/_probe.py", "import service.app", "service above index and model"),
    ("index/_probe.py", "from model import encoder", "service above index and model"),
    ("service/_probe.py", "from index.facet_set import FacetIndexSet",
     "the service uses the index package's public face only"),
    ("layout/_probe.py", "import torch", "the facet layout needs numpy alone"),
    ("benchmarks/_probe.py", "from tests.utils.models import tiny_schema",
     "benchmarks never import the tests"),
    ("service/api/_probe.py", "import ray", "Ray is optional"),
    ("service/catalog/_probe.py", "from service.ingest_ray import ray_engine",
     "Ray is optional"),  # through the one module that may import it
])
def test_a_forbidden_import_breaks_its_contract(tree: Path, probe: str, statement: str,
                                                contract: str) -> None:
    path = tree / probe
    path.write_text(statement + "\n", encoding="utf-8")
    try:
        done = lint_imports(tree)
    finally:
        path.unlink()
    assert done.returncode == 1, done.stdout[-3000:]
    assert f"{contract}" in done.stdout and "BROKEN" in done.stdout
    assert probe.replace("/", ".").removesuffix(".py") in done.stdout

"""The page as files and HTTP: served at / with its assets from the package, nothing from
elsewhere, every module it imports present and packaged; its unit tests (Node's runner)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.page import CSP, WEB_DIR
from service.app import create_app
from tests.service.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]
STATIC = WEB_DIR / "static"
IMPORT = re.compile(r"""^import\s[^;]*?from\s+"([^"]+)";""", re.MULTILINE | re.DOTALL)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The app without its lifespan: the page needs no catalogue to be served."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    yield TestClient(create_app(settings))


def test_the_page_is_served_at_the_root_with_a_strict_policy(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == CSP
    assert "default-src 'self'" in CSP and "script-src 'self'" in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert re.findall(r'(?:src|href)="([^"#]+)"', r.text) == [
        "/web/style.css", "data:,", "/web/app.js", "/docs", "/docs",
    ]


def module_graph(entry: str = "app.js") -> set[str]:
    """Every module reachable from ``entry`` by static imports, as paths under static/."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        text = (STATIC / name).read_text(encoding="utf-8")
        for spec in IMPORT.findall(text):
            assert spec.startswith("./") or spec.startswith("../"), f"{name} imports {spec}"
            todo.append(str((Path(name).parent / spec).as_posix()).replace("views/../", ""))
    return {str(Path(p)) for p in seen}


def test_every_module_is_reached_served_and_local(client: TestClient) -> None:
    on_disk = {str(p.relative_to(STATIC)) for p in STATIC.rglob("*.js")}
    assert module_graph() == on_disk  # no dead module, no missing one
    for name in sorted(on_disk | {"style.css"}):
        r = client.get(f"/web/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"].split(";")[0] in ("text/javascript", "text/css")
        assert r.headers["cache-control"] == "no-cache"
        assert not re.search(r"https?://|//cdn|@import", r.text), f"{name} reaches elsewhere"


def test_a_missing_asset_is_404_and_paths_stay_inside(client: TestClient) -> None:
    assert client.get("/web/nope.js").status_code == 404
    assert client.get("/web/../app.py").status_code == 404
    assert client.get("/web/%2e%2e/%2e%2e/settings.py").status_code == 404


def test_the_wheel_carries_every_file_the_page_serves() -> None:
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["service"]
    served = [p.relative_to(WEB_DIR.parent).as_posix()
              for p in [WEB_DIR / "index.html", *STATIC.rglob("*")] if p.is_file()]
    missing = [f for f in served if not any(fnmatch(f, pat) for pat in patterns)]
    assert missing == []


def test_the_key_is_never_persisted_by_the_page() -> None:
    code = "\n".join(p.read_text() for p in STATIC.rglob("*.js"))
    code = re.sub(r"^\s*//.*$", "", code, flags=re.MULTILINE)  # comments may name them
    assert not re.search(r"localStorage|sessionStorage|document\.cookie|indexedDB", code)


def test_the_pages_unit_tests_pass() -> None:
    """node --test service/web/tests/: the API client, weights, state, routes, formatting."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the page's unit tests need Node >= 20")
    done = subprocess.run([node, "--test", "service/web/tests/"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = int(re.search(r"^# pass (\d+)$", done.stdout, re.MULTILINE).group(1))
    assert re.search(r"^# fail 0$", done.stdout, re.MULTILINE)
    assert passed >= 30

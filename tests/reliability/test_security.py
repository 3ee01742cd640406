"""Security: every write route (found in the OpenAPI schema, so a new one is covered the day
it is added) refuses requests without the right API key; the key is compared by
``hmac.compare_digest`` alone; an unexpected server error tells the client nothing; and
``musicprism ingest`` never reads outside the folder it was given."""

from __future__ import annotations

import csv
import hmac
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from model.audio import sha256_of
from service.app import create_app
from service.cli import main
from service.db import make_engine
from support.audio import encode
from tests.reliability.conftest import Served
from tests.reliability.helpers import Deployment, assert_clean_error, make_deployment
from tests.service.conftest import API_KEY, SR, song

WRITES = {"post", "put", "patch", "delete"}
# Operations that use a write method but change nothing: queries whose clips must travel as a
# body. A new write route is covered unless it is added here, on purpose.
READ_ONLY = {("POST", "/similar"), ("POST", "/similar/query")}
NO_TRACK = 2**31 - 1  # a valid id that no track has


def write_operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in WRITES
    ]


def request_for(schema: dict[str, Any], path: str, op: dict[str, Any], track: int) -> dict:
    """A request the route would accept but for the key: path ids, and every field of a
    multipart body (a real audio file for binary ones)."""
    url = path.replace("{track_id}", str(track))
    body = op.get("requestBody", {}).get("content", {}).get("multipart/form-data")
    if body is None:
        return {"url": url}
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = schema["components"]["schemas"][ref]["properties"]
    files = {n: ("a.wav", encode(song("key-check"), SR, "wav")) for n, f in fields.items()
             if f.get("format") == "binary" or f.get("contentMediaType")}
    data = {n: "x" for n in fields if n not in files}
    return {"url": url, "files": files, "data": data}


KEYS = {  # header value -> (status, detail)
    None: (401, "missing X-API-Key header"),
    "": (401, "missing X-API-Key header"),
    "wrong": (403, "invalid API key"),
    API_KEY[:-1] + "X": (403, "invalid API key"),  # same length, last character differs
    API_KEY + "x": (403, "invalid API key"),  # the key is a prefix of it
    b"\xff\xfe": (403, "invalid API key"),  # not ASCII
}


def test_every_write_route_needs_the_key(served: Served):
    track = max(served.ensure_tracks(2))
    with served.client() as client:
        schema = client.get("/openapi.json").json()
        operations = write_operations(schema)
        assert {(m, p) for m, p, _ in operations} >= {("POST", "/tracks"),
                                                      ("DELETE", "/tracks/{track_id}")}
        before = served.state()
        assert READ_ONLY <= {(m, p) for m, p, _ in operations}  # no stale exception
        for method, path, op in operations:
            if (method, path) in READ_ONLY:
                continue
            params = {p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"}
            assert "x-api-key" in params, f"{method} {path} does not declare the key"
            request = request_for(schema, path, op, track)
            for key, (status, detail) in KEYS.items():
                headers = {} if key is None else {"X-API-Key": key}
                r = client.request(method, headers=headers, **request)
                got = (r.status_code, r.json())
                assert got == (status, {"detail": detail}), (method, path, key)
                assert_clean_error(r.status_code, r.headers["content-type"], r.text, served.private)
                if status == 401:
                    assert r.headers["www-authenticate"] == "ApiKey"
        assert served.state() == before
        # The same requests with the key get past it (here: refused for another reason).
        r = client.delete(f"/tracks/{NO_TRACK}", headers={"X-API-Key": API_KEY})
        assert r.status_code == 404


@pytest.fixture
def sqlite_deployment(tmp_path: Path) -> Deployment:
    from service.db import upgrade

    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    return make_deployment(tmp_path / "site", url)


def test_the_key_is_compared_by_hmac_compare_digest(sqlite_deployment, monkeypatch):
    real = hmac.compare_digest
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    url = f"/tracks/{NO_TRACK}"
    with TestClient(create_app(sqlite_deployment.settings)) as client:
        assert client.delete(url, headers={"X-API-Key": "wrong"}).status_code == 403
        assert client.delete(url, headers={"X-API-Key": API_KEY}).status_code == 404
        assert calls == [(b"wrong", API_KEY.encode()), (API_KEY.encode(), API_KEY.encode())]
        # Its answer alone decides: no other comparison of the key comes before or after it.
        monkeypatch.setattr(hmac, "compare_digest", lambda a, b: True)
        assert client.delete(url, headers={"X-API-Key": "wrong"}).status_code == 404
        monkeypatch.setattr(hmac, "compare_digest", lambda a, b: False)
        assert client.delete(url, headers={"X-API-Key": API_KEY}).status_code == 403


def test_an_unexpected_error_tells_the_client_nothing(sqlite_deployment, tmp_path: Path):
    settings = sqlite_deployment.settings
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = client.post("/tracks", files={"file": ("a.wav", encode(song("e"), SR, "wav"))},
                        headers={"X-API-Key": API_KEY})
        assert r.status_code == 201
        engine = make_engine(settings.resolved_database_url)
        with engine.begin() as conn:  # break the store under the running service
            conn.execute(text("ALTER TABLE track_tags RENAME TO track_tags_gone"))
        engine.dispose()
        r = client.get(f"/tracks/{r.json()['track']['id']}")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error"}
    for secret in ("track_tags", "sqlite", "SELECT", "Traceback", str(tmp_path), API_KEY):
        assert secret not in r.text


# --- ingest stays inside its folder ---------------------------------------------------------
@pytest.fixture
def cli_env(sqlite_deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """The CLI's settings come from the environment, as in production."""
    for name, value in sqlite_deployment.env.items():
        monkeypatch.setenv(name, value)
    return sqlite_deployment


def library_with_links(root: Path) -> tuple[Path, Path]:
    """A library with two real files and links of every kind; and a folder outside it."""
    lib, outside = root / "library", root / "outside"
    (lib / "real").mkdir(parents=True)
    outside.mkdir()
    (lib / "real" / "one.wav").write_bytes(encode(song("in-one"), SR, "wav"))
    (lib / "real" / "two.flac").write_bytes(encode(song("in-two"), SR, "flac"))
    (outside / "secret.wav").write_bytes(encode(song("out-secret"), SR, "wav"))
    (lib / "to-outside-dir").symlink_to(outside, target_is_directory=True)
    (lib / "to-outside-file.wav").symlink_to(outside / "secret.wav")
    (lib / "to-parent").symlink_to(root, target_is_directory=True)  # leads out too
    (lib / "real" / "loop").symlink_to(lib, target_is_directory=True)  # a directory cycle
    (lib / "ping.wav").symlink_to(lib / "pong.wav")  # a file link loop
    (lib / "pong.wav").symlink_to(lib / "ping.wav")
    (lib / "dangling.wav").symlink_to(lib / "missing.wav")
    (lib / "alias.wav").symlink_to(lib / "real" / "one.wav")  # inside: the same track
    return lib, outside


def test_ingest_never_reads_outside_its_folder(cli_env: Deployment, tmp_path: Path, capsys):
    lib, outside = library_with_links(tmp_path)
    assert main(["ingest", str(lib), "--quiet"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == (
        "2 added; 1 already in the catalogue; 6 skipped "
        "(3 broken link, 3 outside the ingest root)"
    ), out
    for link in ("to-outside-dir", "to-outside-file.wav", "to-parent"):
        assert f"  skipped {lib / link}: outside the ingest root: a link leads out of it" in lines
    for link in ("ping.wav", "pong.wav"):
        assert f"  skipped {lib / link}: broken link: a link loop" in lines
    assert f"  skipped {lib / 'dangling.wav'}: broken link: it leads to a missing file" in lines
    engine = make_engine(cli_env.settings.resolved_database_url)
    with engine.connect() as conn:
        stored = set(conn.scalars(text("SELECT content_hash FROM tracks")))
    engine.dispose()
    inside = {sha256_of(lib / "real" / "one.wav"), sha256_of(lib / "real" / "two.flac")}
    assert stored == inside and sha256_of(outside / "secret.wav") not in stored


@pytest.mark.parametrize(
    "row",
    [
        "../outside/secret.wav",  # climbs out
        "{outside}/secret.wav",  # absolute, outside
        "to-outside-dir/secret.wav",  # through a link that leads out
        "real/loop/../../outside/secret.wav",
    ],
)
def test_metadata_paths_outside_the_folder_are_refused(cli_env, tmp_path: Path, capsys, row):
    lib, outside = library_with_links(tmp_path)
    meta = tmp_path / "meta.csv"
    with open(meta, "w", newline="") as f:
        csv.writer(f).writerows([["path", "title"], [row.format(outside=outside), "x"]])
    assert main(["ingest", str(lib), "--metadata", str(meta), "--quiet"]) == 1
    assert "is outside the ingest root" in capsys.readouterr().err

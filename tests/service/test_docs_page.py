"""/docs works offline: the page and everything it loads come from this server."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def test_docs_reference_no_external_host_and_every_asset_is_served(tmp_path) -> None:
    client = TestClient(create_app(Settings(data_dir=tmp_path)))  # no lifespan: no model
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    parser = Links()
    parser.feed(page.text)
    assert len(parser.urls) >= 3  # the script, the stylesheet, the icon
    assert all(u.startswith("/docs/static/") for u in parser.urls), parser.urls
    assert not re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}", page.text)
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
    for url in parser.urls:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
    assert "SwaggerUIBundle" in client.get("/docs/static/swagger-ui-bundle.js").text
    assert client.get("/docs/static/swagger-ui.css").headers["content-type"].startswith("text/css")


def test_redoc_is_not_served_and_the_docs_are_not_in_the_schema(tmp_path) -> None:
    client = TestClient(create_app(Settings(data_dir=tmp_path)))
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/docs")]


def test_static_files_refuse_paths_outside_their_folder(tmp_path) -> None:
    client = TestClient(create_app(Settings(data_dir=tmp_path)))
    for path in ("/docs/static/../../../etc/passwd", "/docs/static/%2e%2e/%2e%2e/etc/passwd",
                 "/docs/static/nope.js"):
        assert client.get(path).status_code == 404, path

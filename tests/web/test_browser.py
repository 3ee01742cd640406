"""The page's main journeys in a real browser (headless Chromium) against a real server: what
it shows is compared with what the API answers for the same question."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.web import journeys
from tests.web.browser import PHONE, Watch
from tests.web.conftest import API_KEY, Served

pytestmark = pytest.mark.slow


def api_ids(served: Served, path: str, **params: object) -> list[int]:
    r = served.api.get(path, params=params)
    assert r.status_code == 200, r.text
    return [x["track"]["id"] for x in r.json()["results"]]


def test_search_by_upload_finds_the_recording_first(page: Page, served: Served) -> None:
    ids = journeys.search_by_upload(
        page, served.server.base_url, served.clip, served.shots / "search-by-upload.png"
    )
    with open(served.clip, "rb") as fh:
        r = served.api.post("/similar", files={"file": ("clip.wav", fh)}, data={"k": "10"})
    expected = [x["track"]["id"] for x in r.json()["results"]]
    assert ids == expected
    assert ids[0] == served.ids["Study 5"]  # the clip was cut from it
    first = page.locator(".results > .result").first
    assert "Your clip is from this recording, at 0:02" in first.locator(".match").inner_text()
    facets = first.locator(".facet-bars .bar").evaluate_all(
        "bars => bars.map(b => b.getAttribute('aria-label'))"
    )
    shown = r.json()["results"][0]["facets"]
    assert facets == [f"{name}: {cos:.2f}" for name, cos in shown.items()]
    assert page.locator(".query-tags").inner_text().startswith("Your clip sounds like genre: ")


def test_moving_a_slider_reranks(page: Page, served: Served) -> None:
    base = served.server.base_url
    track = served.ids["Study 3"]
    before = journeys.search_by_track(page, base, "Study 3")
    assert before == api_ids(served, f"/similar/{track}")
    after = journeys.weigh_only(page, "instrument", served.shots / "slider-instrument.png")
    assert after == api_ids(served, f"/similar/{track}", facet="instrument:1")
    assert after != before
    assert page.locator("#facet-instrument-share").inner_text() == "100 %"
    muted = page.locator(".results > .result").first.locator(".bar.unweighted").evaluate_all(
        "bars => bars.map(b => b.getAttribute('aria-label').split(':')[0])"
    )
    assert muted == ["genre", "mood", "era"]  # drawn, but not ranked by


def test_a_result_plays(page: Page, served: Served, watch: Watch) -> None:
    journeys.search_by_upload(page, served.server.base_url, served.clip)
    state = journeys.play(page, 0, served.shots / "playing.png")
    assert state["src"].endswith(f"/tracks/{served.ids['Study 5']}/audio")
    assert state["currentTime"] >= 2.0  # "Play from 0:02": where the clip was found
    assert state["duration"] == pytest.approx(8.0, abs=0.05)
    assert watch.audio and all(status in (200, 206) for status, _ in watch.audio)
    assert any(status == 206 and rng for status, rng in watch.audio)  # served by ranges


def test_another_result_plays_from_its_controls(page: Page, served: Served) -> None:
    journeys.search_by_track(page, served.server.base_url, "Study 8")
    state = journeys.play(page, 1)
    assert state["currentTime"] > 0


def test_track_page(page: Page, served: Served) -> None:
    track = served.ids["Study 7"]
    shown = journeys.track_page(page, served.server.base_url, track, served.shots / "track.png")
    info = served.api.get(f"/tracks/{track}").json()
    assert shown["title"] == "Study 7" and shown["focused"]
    assert shown["tags"] == {c: [t["tag"] for t in tags] for c, tags in info["tags"].items()}
    facets = [f["name"] for f in served.api.get("/facets").json()["facets"]]
    assert shown["neighbours"] == {
        f: api_ids(served, f"/similar/{track}", facet=f, k=5) for f in facets
    }


def test_search_by_tags(page: Page, served: Served) -> None:
    ids = journeys.search_by_tags(page, served.server.base_url, ["piano", "happy"])
    assert ids == api_ids(served, "/search", tag=["piano", "happy"])


def test_search_by_text(page: Page, served: Served) -> None:
    text = "calm piano with strings, no vocals, polka"
    ids, reading = journeys.search_by_text(page, served.server.base_url, text)
    assert ids == api_ids(served, "/search", q=text)
    assert reading == "Read as calm, piano, strings, not voice. Not understood: polka."


def test_add_and_delete_with_the_key_in_memory_only(page: Page, served: Served) -> None:
    base = served.server.base_url
    journeys.set_key(page, base, API_KEY)
    new = journeys.upload(page, served.clip, "Uploaded clip", served.shots / "upload.png")
    assert served.api.get(f"/tracks/{new}").json()["title"] == "Uploaded clip"
    stored = page.evaluate(
        "() => [localStorage.length, sessionStorage.length, document.cookie,"
        " document.documentElement.outerHTML.includes(arguments[0])]".replace(
            "arguments[0]", repr(API_KEY)
        )
    )
    assert stored == [0, 0, "", False]
    assert page.context.cookies() == []
    journeys.open_page(page, f"{base}/#/track/{new}")
    page.wait_for_selector("button.danger")
    assert journeys.delete_open_track(page) == "Deleted “Uploaded clip”."
    assert served.api.get(f"/tracks/{new}").status_code == 404
    page.reload()  # a reload forgets the key: no delete button any more
    journeys.open_page(page, f"{base}/#/track/{served.ids['Study 1']}")
    page.wait_for_selector(".neighbour-list")
    assert page.locator("button.danger").count() == 0


def test_readable_on_a_phone(browser, served: Served, watch: Watch) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    watch.attach(page)
    try:
        journeys.search_by_upload(
            page, served.server.base_url, served.clip, served.shots / "phone.png"
        )
        overflow = page.evaluate(
            "() => document.scrollingElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0
    finally:
        context.close()
    assert watch.errors == [] and watch.foreign == []


def test_every_control_has_a_name(page: Page, served: Served) -> None:
    """Inputs, buttons and links can be told apart by a screen reader."""
    for route in ("/", "/#/add", f"/#/track/{served.ids['Study 2']}"):
        journeys.open_page(page, served.server.base_url + route)
        page.wait_for_load_state("networkidle")
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll('input, button, a, select, audio')]
                .filter(el => !(el.labels?.length || el.getAttribute('aria-label')
                                || el.textContent.trim()))
                .map(el => el.outerHTML.slice(0, 80))"""
        )
        assert unnamed == [], route

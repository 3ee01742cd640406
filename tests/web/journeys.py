"""What a person does on the page, as functions over a Playwright page; each returns what
the page then shows so that tests can compare it with the API, and can save a screenshot.

tests/web/test_browser.py asserts on them; tests/web/screenshots.py runs them against any
served catalogue (the demo one) to make the pictures in docs/images/.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

TIMEOUT_MS = 30_000


def shoot(page: Page, path: Path | None, *, full_page: bool = False) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=full_page)


def open_page(page: Page, url: str) -> None:
    """Load ``url`` (the page or one of its routes) and wait until it has loaded what the
    server offers (facets, tags)."""
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=TIMEOUT_MS)


def wait_results(page: Page) -> None:
    """Wait until a query has finished and its results are drawn."""
    page.wait_for_function(
        "() => { const v = document.querySelector('.search-view');"
        " const s = document.querySelector('.status');"
        " return v && !v.classList.contains('busy') && / results$/.test(s.textContent); }",
        timeout=TIMEOUT_MS,
    )


def result_ids(page: Page) -> list[int]:
    return page.locator(".results > .result").evaluate_all(
        "items => items.map(li => Number(li.dataset.trackId))"
    )


def search_by_upload(page: Page, base_url: str, clip: Path, shot: Path | None = None) -> list[int]:
    """Choose a clip in the drop zone's file input: the page searches at once."""
    open_page(page, f"{base_url}/")
    page.set_input_files("#clip-file", str(clip))
    wait_results(page)
    page.wait_for_selector(".result .tag-bars:not([aria-busy]) .bar.tag", timeout=TIMEOUT_MS)
    shoot(page, shot)
    return result_ids(page)


def search_by_track(page: Page, base_url: str, title: str) -> list[int]:
    """Type a title in the catalogue search box and pick the track."""
    open_page(page, f"{base_url}/")
    page.fill("#track-q", title)
    page.locator("#track-matches button", has_text=title).first.click()
    wait_results(page)
    return result_ids(page)


def weigh_only(page: Page, facet: str, shot: Path | None = None) -> list[int]:
    """Move every other facet's slider to zero with the keyboard (Home), leaving ``facet``:
    the page re-ranks once the sliders settle."""
    names = page.locator("#facet-sliders input[type=range]").evaluate_all(
        "inputs => inputs.map(i => i.id.slice('facet-'.length))"
    )
    for name in names:
        if name != facet:
            page.focus(f"#facet-{name}")
            page.keyboard.press("Home")
    page.wait_for_function(
        "facet => document.querySelector('.query-summary').textContent"
        ".endsWith(`by ${facet} 100 %`)",
        arg=facet,
        timeout=TIMEOUT_MS,
    )
    wait_results(page)
    shoot(page, shot)
    return result_ids(page)


def play(page: Page, index: int = 0, shot: Path | None = None) -> dict[str, float | str]:
    """Press the result's "Play from" button (a result the clip was found in) or, for other
    results, the play button of its audio controls; wait for the <audio> to be playing."""
    result = page.locator(".results > .result").nth(index)
    audio = result.locator("audio")
    audio.evaluate(
        "a => a.addEventListener('playing', () => { a.dataset.playing = 'yes'; }, { once: true })"
    )
    button = result.locator(".region button")
    if button.count():
        button.click()
    else:  # the controls' play button sits at their left end
        box = audio.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 20, box["y"] + box["height"] / 2)
    page.wait_for_selector(
        f".results > .result:nth-child({index + 1}) audio[data-playing=yes]", timeout=TIMEOUT_MS
    )
    shoot(page, shot)
    return audio.evaluate(
        "a => ({ currentTime: a.currentTime, duration: a.duration, src: a.currentSrc })"
    )


def search_by_tags(page: Page, base_url: str, tags: list[str]) -> list[int]:
    open_page(page, f"{base_url}/")
    page.click("#tag-form summary")
    for tag in tags:
        page.check(f"#tag-form input[value='{tag}']")
    page.click("#tag-form button[type=submit]")
    wait_results(page)
    return result_ids(page)


def search_by_text(page: Page, base_url: str, text: str) -> tuple[list[int], str]:
    """Search by a description; (the result ids, how the page says the text was read)."""
    open_page(page, f"{base_url}/")
    page.fill("#text-q", text)
    page.press("#text-q", "Enter")
    wait_results(page)
    return result_ids(page), page.locator(".query-tags .reading").inner_text()


def track_page(page: Page, base_url: str, track_id: int, shot: Path | None = None) -> dict:
    """Open a track's page; what it shows: title, tags by concept (most probable first) and
    the nearest tracks in each facet."""
    open_page(page, f"{base_url}/#/track/{track_id}")
    page.wait_for_selector(".neighbour-list", timeout=TIMEOUT_MS)
    shoot(page, shot, full_page=True)
    return page.evaluate(
        """() => ({
            title: document.querySelector('.track-view h1').textContent,
            focused: document.activeElement === document.querySelector('.track-view h1'),
            tags: Object.fromEntries([...document.querySelectorAll('.concept')].map(c =>
                [c.dataset.concept, [...c.querySelectorAll('.bar')].map(b =>
                    b.getAttribute('aria-label').split(':')[0])])),
            neighbours: Object.fromEntries([...document.querySelectorAll('.neighbour-list')].map(
                s => [s.dataset.facet, [...s.querySelectorAll('li')].map(li =>
                    Number(li.dataset.trackId))])),
        })"""
    )


def set_key(page: Page, base_url: str, key: str) -> None:
    open_page(page, f"{base_url}/#/add")
    page.fill("#api-key", key)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#key-badge:text('key set')")


def upload(page: Page, file: Path, title: str, shot: Path | None = None) -> int:
    """On #/add (with a key set): upload a file; returns the new track's id."""
    page.set_input_files("#upload-file", str(file))
    page.fill("#upload-title", title)
    page.click("#upload-form button[type=submit]")
    link = page.locator(".uploads li a").first
    link.wait_for(timeout=TIMEOUT_MS)
    shoot(page, shot)
    return int(link.get_attribute("href").rsplit("/", 1)[1])


def delete_open_track(page: Page) -> str:
    """On a track page: press Delete, accept the confirmation; returns the notice shown."""
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.danger")
    page.wait_for_function("() => location.hash === '#/'")
    return page.text_content("#notice") or ""

"""Pictures of the page for the docs: the browser tests' journeys against a served catalogue.

    python -m tests.web.screenshots --data-dir data --out docs/images

serves ``--data-dir`` (``musicprism demo`` builds the demo catalogue there; it must have been
ingested with audio copies kept, the default) on a free port, cuts a query clip from one of
its tracks (or takes ``--clip``), and writes page-results.png (search by that clip),
page-slider.png (re-ranked by one facet), page-track.png (a track page) and page-phone.png.
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import tempfile
from pathlib import Path

import httpx2
import soundfile as sf

from support.server import serve
from tests.web import journeys
from tests.web.browser import LAPTOP, PHONE, chromium

log = logging.getLogger("screenshots")


def query_clip(api: httpx2.Client, track_id: int, out: Path, start: float = 1.0,
               seconds: float = 4.0) -> Path:
    """A WAV of ``seconds`` from ``start`` of a catalogue track's stored audio."""
    r = api.get(f"/tracks/{track_id}/audio")
    r.raise_for_status()
    samples, sr = sf.read(io.BytesIO(r.content), dtype="float32")
    i = round(start * sr)
    sf.write(out, samples[i : i + round(seconds * sr)], sr, format="WAV", subtype="PCM_16")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--track", type=int, default=None, help="cut the clip from this track")
    parser.add_argument("--clip", type=Path, default=None, help="search with this clip instead")
    parser.add_argument("--facet", default="mood", help="the facet of page-slider.png")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = {"MUSICPRISM_DATA_DIR": str(args.data_dir.resolve()), "MUSICPRISM_LOG_LEVEL": "warning"}
    with tempfile.TemporaryDirectory() as tmp, serve(env, Path(tmp) / "server.log") as server, \
            httpx2.Client(base_url=server.base_url, timeout=60.0) as api, chromium() as browser:
        tracks = api.get("/tracks", params={"limit": 1000}).json()["tracks"]
        track = args.track or tracks[len(tracks) // 3]["id"]
        title = next((t["title"] for t in tracks if t["id"] == track), None) or "track"
        name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") + "-excerpt.wav"
        clip = args.clip or query_clip(api, track, Path(tmp) / name)
        base = server.base_url
        page = browser.new_context(viewport=LAPTOP).new_page()
        journeys.search_by_upload(page, base, clip, args.out / "page-results.png")
        journeys.weigh_only(page, args.facet, args.out / "page-slider.png")
        journeys.track_page(page, base, track, args.out / "page-track.png")
        phone = browser.new_context(viewport=PHONE, is_mobile=True).new_page()
        journeys.search_by_upload(phone, base, clip, args.out / "page-phone.png")
    log.info("wrote page-results.png, page-slider.png, page-track.png, page-phone.png to %s",
             args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

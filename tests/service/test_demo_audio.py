"""`musicprism demo` on a catalogue ingested before audio copies were kept adds them, so
that `make serve` on an existing checkout plays its tracks on the page."""

from __future__ import annotations

from pathlib import Path

from service.demo import ensure_demo
from service.settings import Settings
from tests.service.test_demo import corpus
from tests.utils.models import tiny_checkpoint


def test_demo_adds_missing_audio_copies(tmp_path: Path, database_url: str) -> None:
    common = dict(data_dir=tmp_path / "data", database_url=database_url,
                  model_path=tiny_checkpoint(tmp_path / "m.pt"))
    source = corpus(common["data_dir"])  # type: ignore[arg-type]
    before = Settings(**common, keep_audio=False)  # type: ignore[arg-type]
    assert ensure_demo(before, progress=False).endswith("3 added; 0 already in the catalogue; "
                                                        "0 skipped")
    assert not before.audio_dir.exists()
    after = Settings(**common)  # type: ignore[arg-type]
    assert ensure_demo(after, progress=False) == "demo catalogue present: 3 tracks"
    kept = sorted(p.read_bytes() for p in after.audio_dir.rglob("*.flac"))
    assert kept == sorted(p.read_bytes() for p in (source / "audio").glob("*.flac"))

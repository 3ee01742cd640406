"""benchmarks/ingest_engines.py: the engines measured and the report's table."""

from __future__ import annotations

from benchmarks.ingest_engines import engines, report
from service.cli import build_parser


def test_each_engine_is_a_valid_ingest_command():
    runs = engines(3)
    assert [label for label, _ in runs] == ["local, 1 process", "local, 3 processes",
                                            "ray, local cluster of 3 CPUs"]
    for _, flags in runs:
        args = build_parser().parse_args(["ingest", "lib", *flags])
        assert args.engine in ("local", "ray") and args.processes in (1, 3)


def test_the_report_shows_each_run():
    meta = {"command": "python -m benchmarks.ingest_engines", "date": "2026-12-05T16:00:00",
            "machine": {"cpu_model": "cpu", "cores": 2, "ram_gib": 8, "python": "3.11",
                        "load_avg": [1.0, 1.0, 1.0]}}
    row = {"engine": "ray, local cluster of 2 CPUs", "backend": "SQLite", "added": 40,
           "skipped": 0, "ingest_s": 60.0, "command_s": 62.0, "tracks_per_min": 40.0,
           "audio_h_per_wall_h": 186.0}
    text = report({"meta": meta, "rows": [row], "files": 40, "audio_h": 3.11, "mib": 121.0,
                   "formats": "ogg, opus", "source": "/tmp/real"})
    assert "| ray, local cluster of 2 CPUs | SQLite | 40 | 0 | 60 | 62 | 40 | 186 |" in text
    assert "40 real recordings (3.11 h of audio, 121 MiB" in text

"""Process-wide behaviour, each case in a fresh interpreter: prometheus-client's multiprocess
mode (several workers' metrics added up by one scrape) and the logging configuration."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.observability import (
    MULTIPROC_ENV,
    multiprocess_dir,
    prepare_metrics_for_workers,
    prepare_multiprocess_dir,
)
from tests.ops.files import ROOT


def python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != MULTIPROC_ENV}
    full.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=60)


WORKER = """
    from service.observability import Metrics, multiprocess_dir
    metrics = Metrics(lambda: None, multiproc=multiprocess_dir())
    for _ in range({n}):
        metrics.observe_request("GET", "/similar/{{track_id}}", 200, 0.02)
    metrics.observe_embedding(0.5)
    metrics.count_ingest("failed", "AudioDecodeError")
"""

SCRAPE = """
    import sys
    from service.observability import Metrics, multiprocess_dir
    sys.stdout.write(Metrics(lambda: None, multiproc=multiprocess_dir()).render()[0].decode())
"""


def test_multiprocess_mode_adds_up_every_worker(tmp_path: Path) -> None:
    env = {MULTIPROC_ENV: str(tmp_path)}
    for n in (3, 4):  # two worker processes, one after the other
        done = python(WORKER.format(n=n), env)
        assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in tmp_path.glob("*.db"))
    assert len({f.rsplit("_", 1)[-1] for f in files}) == 2  # one set of files per worker pid
    scraped = python(SCRAPE, env)
    assert scraped.returncode == 0, scraped.stderr
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(scraped.stdout) for s in f.samples}
    route = (("method", "GET"), ("route", "/similar/{track_id}"), ("status", "200"))
    assert got[("musicprism_http_requests_total", route)] == 7.0
    assert got[("musicprism_http_request_duration_seconds_count", route)] == 7.0
    assert got[("musicprism_embedding_seconds_count", ())] == 2.0
    assert got[("musicprism_ingest_total", (("outcome", "failed"),
                                            ("reason", "AudioDecodeError")))] == 2.0
    assert got[("musicprism_catalog_ready", ())] == 0.0  # the scraping worker's own view

    left = len(list(tmp_path.glob("*.db")))  # the workers' and the scraper's
    assert left >= len(files) and prepare_multiprocess_dir(tmp_path) == left
    assert list(tmp_path.glob("*.db")) == []
    empty = python(SCRAPE, env)
    assert "musicprism_http_requests_total{" not in empty.stdout


def test_multiprocess_variable_set_too_late_is_refused(tmp_path: Path) -> None:
    done = python(f"""
        import os, prometheus_client
        os.environ["{MULTIPROC_ENV}"] = {str(tmp_path)!r}
        from service.observability import multiprocess_dir
        multiprocess_dir()
    """)
    assert done.returncode == 1
    assert "was imported before it was set" in done.stderr


def test_multiprocess_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    assert multiprocess_dir() is None
    done = python("""
        from service.observability import multiprocess_dir
        print(multiprocess_dir())
    """, {MULTIPROC_ENV: str(tmp_path)})
    assert done.stdout.strip() == str(tmp_path)
    missing = python("""
        from service.observability import multiprocess_dir
        multiprocess_dir()
    """, {MULTIPROC_ENV: str(tmp_path / "absent")})
    assert "which is not an existing folder" in missing.stderr


def test_prepare_multiprocess_dir_removes_only_metric_files(tmp_path: Path) -> None:
    folder = tmp_path / "prom"
    assert prepare_multiprocess_dir(folder) == 0 and folder.is_dir()
    for name in ("counter_1.db", "histogram_2.db", "keep.txt"):
        (folder / name).write_bytes(b"x")
    assert prepare_multiprocess_dir(folder) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]


LOG = """
    import logging
    from service.observability import configure_logging, request_id_var
    configure_logging("info", fmt={fmt!r})
    logging.getLogger("musicprism.test").debug("hidden")
    logging.getLogger("musicprism.test").info("outside")
    request_id_var.set("rid-9")
    logging.getLogger("uvicorn.error").info("inside %d", 1)
    logging.getLogger("uvicorn.access").info("uvicorn's own access line is off")
"""


@pytest.mark.parametrize("fmt", ["json", "auto"])  # auto: stderr is a pipe here, so JSON
def test_json_logging_configuration(fmt: str) -> None:
    done = python(LOG.format(fmt=fmt))
    assert done.returncode == 0
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(r["logger"], r["message"], r.get("request_id")) for r in records] == [
        ("musicprism.test", "outside", None),
        ("uvicorn.error", "inside 1", "rid-9"),
    ]
    assert {r["level"] for r in records} == {"info"}


def test_text_logging_configuration() -> None:
    done = python(LOG.format(fmt="text"))
    lines = done.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(" INFO musicprism.test [-] outside")
    assert lines[1].endswith(" INFO uvicorn.error [rid-9] inside 1")


def test_unknown_log_format_is_refused() -> None:
    from service.observability import logging_config

    with pytest.raises(ValueError, match="got 'xml'"):
        logging_config("info", fmt="xml")  # type: ignore[arg-type]


def test_prepare_metrics_for_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with caplog.at_level(logging.WARNING, logger="service.observability"):
        assert prepare_metrics_for_workers(1) is None
        assert caplog.records == []
        assert prepare_metrics_for_workers(3) is None
    assert [r.getMessage() for r in caplog.records] == [
        "3 workers without PROMETHEUS_MULTIPROC_DIR: /metrics will show one worker's counts; "
        "see docs/operations.md"]
    folder = tmp_path / "prom"
    monkeypatch.setenv(MULTIPROC_ENV, str(folder))
    assert prepare_metrics_for_workers(2) == folder and folder.is_dir()
    (folder / "counter_9.db").write_bytes(b"x")
    assert prepare_metrics_for_workers(2) == folder and list(folder.iterdir()) == []

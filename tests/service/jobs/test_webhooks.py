"""Signed webhooks: the signature against a value computed outside Python (openssl), the
callback URL rules, and deliveries to a real receiver on 127.0.0.1 (SQLite and PostgreSQL):
verified signature and body, a retry after a 500, the give-up after N tries, a redirect not
followed, and no second delivery after a restart."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app, job_parts
from service.errors import InvalidValue
from service.jobs import JobRunner, check_callback_url, sign, verify
from tests.service.conftest import API_KEY, make_settings
from tests.service.jobs.test_jobs_api import flac

KEY = {"X-API-Key": API_KEY}
SECRET = "whsec-0123456789abcdef"
# printf '1700000000.{"id":1}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef'
OPENSSL_MAC = "139d89016db745c75bf654476b1450b5650c0885f51ba9dae48257ca45752295"


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"id":1}'
    header = sign(SECRET, 1_700_000_000, body)
    assert header == f"t=1700000000,v1={OPENSSL_MAC}"
    assert verify(SECRET, header, body, now=1_700_000_100)
    assert not verify(SECRET, header, body, now=1_700_000_301)  # stale: a replay
    assert not verify(SECRET, header, b'{"id":2}', now=1_700_000_000)  # another body
    assert not verify("another-secret-0123", header, body, now=1_700_000_000)
    for broken in ("", "t=x,v1=00", f"v1={OPENSSL_MAC}", "t=1700000000", "garbage"):
        assert not verify(SECRET, broken, body, now=1_700_000_000)


HOSTS = frozenset({"hooks.example.com", "127.0.0.1:9000"})


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/musicprism", "http://hooks.example.com:8443/a?b=c",
    "http://127.0.0.1:9000/hook", "HTTPS://HOOKS.EXAMPLE.COM/x",
])
def test_callback_urls_to_allowed_hosts(url: str) -> None:
    assert check_callback_url(url, HOSTS) == url


@pytest.mark.parametrize(("url", "why"), [
    ("https://evil.example.com/", "host 'evil.example.com' is not allowed; allowed: "
                                  "127.0.0.1:9000, hooks.example.com"),
    ("http://127.0.0.1:9001/hook", "not allowed"),
    ("http://127.0.0.1/hook", "not allowed"),
    ("ftp://hooks.example.com/", "must be an http or https URL"),
    ("file:///etc/passwd", "must be an http or https URL"),
    ("hooks.example.com/x", "must be an http or https URL"),
    ("https://user:pw@hooks.example.com/", "no credentials"),
    ("https://hooks.example.com/#frag", "no credentials or fragment"),
    ("http://hooks.example.com:99999/", "Port out of range"),
    ("http://[::1/", "Invalid IPv6 URL"),
    ("https://hooks.example.com/" + "a" * 2000, "longer than 2000 characters"),
])
def test_other_callback_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidValue, match="invalid callback_url") as err:
        check_callback_url(url, HOSTS)
    assert why in str(err.value)


def test_no_allowed_hosts_means_no_webhooks() -> None:
    with pytest.raises(InvalidValue, match="no webhook hosts are allowed"):
        check_callback_url("https://hooks.example.com/", frozenset())


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 answering each POST with the next status of ``answers``
    (the last one repeats), recording what it got."""

    answers: list[int]
    got: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    def handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append((self.path, dict(self.headers), body))
                status = outer.answers[min(len(outer.got), len(outer.answers)) - 1]
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", f"http://127.0.0.1:{outer.port}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(answers=[200])
    server = ThreadingHTTPServer(("127.0.0.1", 0), rec.handler())
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def idle(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, database_url, job_workers=0, webhook_hosts="127.0.0.1",
                             webhook_secret=SECRET, webhook_max_attempts=3,
                             webhook_backoff_seconds=0.05, webhook_timeout_seconds=5.0)
    with TestClient(create_app(settings)) as client:
        yield client


def a_runner(client: TestClient) -> JobRunner:
    app = client.app
    return job_parts(app.state.settings, app.state.catalog)[1]  # type: ignore[attr-defined]


def submit_with_callback(client: TestClient, receiver: Receiver) -> int:
    r = client.post("/tracks?async=true", headers=KEY,
                    files={"file": ("alpha.flac", flac("alpha"))},
                    data={"callback_url": f"http://127.0.0.1:{receiver.port}/hook?x=1"})
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def drain(runner: JobRunner, limit_s: float = 30.0) -> None:
    """Run until neither jobs nor due webhooks are left, waiting out backoffs."""
    deadline = time.monotonic() + limit_s
    idle_since = None
    while time.monotonic() < deadline:
        if runner.run_once():
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since > 0.5:  # longer than any backoff here
            return
        time.sleep(0.02)


def test_a_finished_job_is_delivered_signed_after_a_retry(idle: TestClient,
                                                          receiver: Receiver) -> None:
    receiver.answers = [500, 204]
    job_id = submit_with_callback(idle, receiver)
    drain(a_runner(idle))
    assert len(receiver.got) == 2
    path, headers, body = receiver.got[-1]
    assert path == "/hook?x=1" and headers["Content-Type"] == "application/json"
    assert verify(SECRET, headers["Musicprism-Signature"], body)
    assert headers["Musicprism-Event"] == "job.done"
    assert headers["Musicprism-Delivery"] == f"job-{job_id}"
    sent = json.loads(body)
    job = idle.get(f"/jobs/{job_id}", headers=KEY).json()
    assert sent == {k: v for k, v in job.items() if k != "webhook"}  # GET /jobs' job
    assert sent["state"] == "done" and sent["items"][0]["track_id"] is not None
    hook = job["webhook"]
    assert hook["state"] == "delivered"
    assert [(a["attempt"], a["status_code"], a["delivered"]) for a in hook["attempts"]] == [
        (1, 500, False), (2, 204, True)]
    assert hook["attempts"][0]["error"] == "answered 500"


def test_a_webhook_is_given_up_after_max_attempts(idle: TestClient, receiver: Receiver
                                                  ) -> None:
    receiver.answers = [500]
    job_id = submit_with_callback(idle, receiver)
    drain(a_runner(idle))
    hook = idle.get(f"/jobs/{job_id}", headers=KEY).json()["webhook"]
    assert len(receiver.got) == 3 and hook["state"] == "failed"
    assert [a["status_code"] for a in hook["attempts"]] == [500, 500, 500]
    times = [a["at"] for a in hook["attempts"]]
    assert times == sorted(times)


def test_a_redirect_is_not_followed(idle: TestClient, receiver: Receiver) -> None:
    receiver.answers = [302]
    job_id = submit_with_callback(idle, receiver)
    drain(a_runner(idle))
    assert {p for p, _, _ in receiver.got} == {"/hook?x=1"}  # never /elsewhere
    hook = idle.get(f"/jobs/{job_id}", headers=KEY).json()["webhook"]
    assert hook["state"] == "failed" and hook["attempts"][0]["error"] == "answered 302"


def test_an_unreachable_receiver_is_an_attempt_with_its_error(idle: TestClient,
                                                              receiver: Receiver) -> None:
    job_id = submit_with_callback(idle, receiver)
    port = receiver.port
    receiver.port = 1  # nothing listens on 127.0.0.1:1
    r = idle.post("/tracks?async=true", headers=KEY,
                  files={"file": ("beta.flac", flac("beta"))},
                  data={"callback_url": "http://127.0.0.1:1/hook"})
    drain(a_runner(idle))
    down = idle.get(f"/jobs/{r.json()['id']}", headers=KEY).json()["webhook"]
    assert down["state"] == "failed" and len(down["attempts"]) == 3
    assert all(a["status_code"] is None and "ConnectionRefusedError" in a["error"]
               for a in down["attempts"])
    up = idle.get(f"/jobs/{job_id}", headers=KEY).json()["webhook"]
    assert up["state"] == "delivered" and port != 1


def test_no_second_delivery_after_a_restart(idle: TestClient, receiver: Receiver) -> None:
    job_id = submit_with_callback(idle, receiver)
    drain(a_runner(idle))
    assert len(receiver.got) == 1
    drain(a_runner(idle), limit_s=2.0)  # a fresh worker, as after a restart
    assert len(receiver.got) == 1
    assert idle.get(f"/jobs/{job_id}", headers=KEY).json()["webhook"]["state"] == "delivered"

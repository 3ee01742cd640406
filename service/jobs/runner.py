"""Workers for jobs: claim a job, ingest its files one by one, end it, send its webhook.

Any number of runners (threads of the serving processes, ``musicprism worker`` processes)
may follow one store: claims are compare-and-set (service/store/jobs.py), so each job is held
by one runner at a time. A runner renews its lease after every file; when a runner dies, its
job's lease runs out and another runner takes the job over, skipping the files already done.
A file is ingested again only if its runner died between storing the track and recording the
file as done, and ingest is idempotent by content hash: no track is ever added twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.api.errors import status_of
from service.catalog import Recordings, TrackMeta
from service.errors import MusicprismError
from service.jobs import webhooks
from service.jobs.spool import Spool
from service.jobs.view import job_public
from service.models import utcnow
from service.settings import Settings
from service.store import jobs as job_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobConfig:
    """How runners work (the ``MUSICPRISM_JOB_*`` and ``MUSICPRISM_WEBHOOK_*`` settings)."""

    lease_s: float = 60.0
    poll_s: float = 0.5
    webhook_secret: str | None = None
    webhook_hosts: frozenset[str] = frozenset()
    webhook_max_attempts: int = 6
    webhook_backoff_s: float = 1.0
    webhook_timeout_s: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> JobConfig:
        return cls(lease_s=settings.job_lease_seconds, poll_s=settings.job_poll_seconds,
                   webhook_secret=settings.webhook_secret,
                   webhook_hosts=webhooks.allowed_hosts(settings.webhook_hosts),
                   webhook_max_attempts=settings.webhook_max_attempts,
                   webhook_backoff_s=settings.webhook_backoff_seconds,
                   webhook_timeout_s=settings.webhook_timeout_seconds)

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.lease_s)


class JobRunner:
    """Works the store's jobs with ``recordings``; :meth:`start` runs it in threads."""

    def __init__(self, sessions: Callable[[], Session], recordings: Recordings, spool: Spool,
                 config: JobConfig, *, name: str | None = None) -> None:
        self.sessions = sessions
        self.recordings = recordings
        self.spool = spool
        self.config = config
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- one step -------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Work one job or send one due webhook; False when there was nothing to do."""
        with self.sessions() as session:
            job_id = job_store.claim_job(session, worker=self.name, lease=self.config.lease)
        if job_id is not None:
            self.work(job_id)
            return True
        with self.sessions() as session:
            hook = job_store.claim_webhook(session, lease=self.config.lease)
        if hook is not None:
            self.deliver(hook)
            return True
        return False

    def work(self, job_id: int) -> None:
        """Ingest the job's files not yet done, then end it (unless it was taken over)."""
        with self.sessions() as session:
            items = [(i.position, i.spool, i.filename, dict(i.meta))
                     for i in job_store.get_job(session, job_id=job_id).items
                     if i.state == "queued"]
        for position, spooled, filename, meta in items:
            self._ingest_item(job_id, position, spooled, filename, meta)
            with self.sessions() as session:
                if not job_store.renew_lease(session, job_id=job_id, worker=self.name,
                                             lease=self.config.lease):
                    log.warning("job %d was taken over by another worker", job_id)
                    return
        with self.sessions() as session:
            if job_store.finish_job(session, job_id=job_id, worker=self.name):
                for item in job_store.get_job(session, job_id=job_id).items:
                    self.spool.remove(item.spool)  # those of an earlier worker's run too
                log.info("job %d ended", job_id)

    def _ingest_item(self, job_id: int, position: int, spooled: str, filename: str | None,
                     meta: dict[str, object]) -> None:
        outcome: dict[str, object]
        try:
            result = self.recordings.ingest(self.spool.path(spooled),
                                            TrackMeta(source=filename, **meta))  # type: ignore[arg-type]
            outcome = {"track_id": result.track.id, "created": result.created}
        except FileNotFoundError:
            outcome = {"error": "the upload is gone from the spool", "status": 500}
        except Exception as exc:  # one bad file fails its item, never the worker
            status = status_of(exc)
            if not isinstance(exc, MusicprismError) and status == 500:
                log.exception("job %d, file %d: unexpected error", job_id, position)
                outcome = {"error": "internal error", "status": 500}
            else:
                outcome = {"error": str(exc), "status": status}
        with self.sessions() as session:
            job_store.finish_item(session, job_id=job_id, position=position, **outcome)  # type: ignore[arg-type]

    def deliver(self, job_id: int) -> bool:
        """One try at the job's webhook; True when the receiver answered 2xx."""
        with self.sessions() as session:
            view = job_public(session, job_id)
        assert view.webhook is not None
        body = json.dumps(view.model_dump(mode="json", exclude={"webhook"}),
                          separators=(",", ":")).encode()
        headers = {webhooks.EVENT_HEADER: f"job.{view.state}",
                   webhooks.DELIVERY_HEADER: f"job-{job_id}"}
        if self.config.webhook_secret:
            headers[webhooks.SIGNATURE_HEADER] = webhooks.sign(
                self.config.webhook_secret, int(time.time()), body)
        try:  # the allowed hosts may have changed since the job was accepted
            webhooks.check_callback_url(view.webhook.url, self.config.webhook_hosts)
            status, error = webhooks.post(view.webhook.url, body, headers,
                                          self.config.webhook_timeout_s)
        except MusicprismError as exc:
            status, error = None, str(exc)
        delivered = status is not None and 200 <= status < 300
        if status is not None and not delivered:
            error = f"answered {status}"
        attempt = len(view.webhook.attempts) + 1
        retry_at = None
        if not delivered and attempt < self.config.webhook_max_attempts:
            retry_at = utcnow() + dt.timedelta(
                seconds=webhooks.backoff_s(attempt, self.config.webhook_backoff_s))
        with self.sessions() as session:
            job_store.record_attempt(session, job_id=job_id, status_code=status, error=error,
                                     delivered=delivered, retry_at=retry_at)
        log.info("webhook of job %d, attempt %d: %s", job_id, attempt,
                 "delivered" if delivered else error)
        return delivered

    # -- threads --------------------------------------------------------------------------

    def start(self, threads: int = 1) -> None:
        for n in range(threads):
            t = threading.Thread(target=self._loop, name=f"jobs-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def request_stop(self) -> None:
        """Ask the threads to stop after the file in hand (safe in a signal handler)."""
        self._stop.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the file in hand, then stop (an unfinished job is taken over later)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout_s)
        self._threads.clear()

    def wait(self) -> None:
        """Block until :meth:`stop` is called (from a signal handler, say)."""
        while not self._stop.wait(1.0):
            pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the store is unreachable for a moment: wait, try again
                log.exception("job runner step failed")
                busy = False
            if not busy:
                self._stop.wait(self.config.poll_s)

"""Jobs in the store: created by a request, claimed by one worker at a time, reported by webhook.

Claims are compare-and-set UPDATEs (``... WHERE id = :id AND <still claimable>``): on
PostgreSQL a second worker's UPDATE re-reads the row after the first commits and finds it
taken; on SQLite writes are serialised. So no job is held by two workers at once, on either
backend, without ``SELECT ... FOR UPDATE``. Each function commits its own transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from service.errors import JobNotFound
from service.models import Job, JobItem, WebhookAttempt, utcnow


@contextmanager
def _transaction(session: Session) -> Iterator[None]:
    """Commit what the block did, or roll it back on any error."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


@dataclass(frozen=True)
class NewItem:
    """A file waiting in the spool: its name there, the uploaded name, its metadata."""

    spool: str
    filename: str | None
    meta: Mapping[str, Any]


def create_job(session: Session, *, items: Sequence[NewItem], callback_url: str | None) -> Job:
    """A queued job holding ``items`` (at least one), in upload order."""
    if not items:
        raise ValueError("a job needs at least one file")
    job = Job(state="queued", attempts=0, callback_url=callback_url, webhook_state="none",
              webhook_attempts=0)
    job.items = [JobItem(position=i, spool=it.spool, filename=it.filename, meta=dict(it.meta),
                         state="queued") for i, it in enumerate(items)]
    with _transaction(session):
        session.add(job)
    return get_job(session, job_id=job.id)


def get_job(session: Session, *, job_id: int) -> Job:
    """The job with its items and webhook attempts loaded."""
    job = session.scalar(select(Job).where(Job.id == job_id).options(selectinload(Job.items))
                         .execution_options(populate_existing=True))
    if job is None:
        raise JobNotFound(job_id)
    return job


def webhook_attempts(session: Session, *, job_id: int) -> list[WebhookAttempt]:
    return list(session.scalars(select(WebhookAttempt).where(WebhookAttempt.job_id == job_id)
                                .order_by(WebhookAttempt.attempt)))


def _claimable(now: dt.datetime) -> Any:
    return or_(Job.state == "queued",
               (Job.state == "running") & (Job.lease_until < now))


def claim_job(session: Session, *, worker: str, lease: dt.timedelta,
              now: dt.datetime | None = None) -> int | None:
    """Take the oldest queued job, or a running one whose lease has run out (its worker
    died): its id, or None when there is nothing to do. ``attempts`` counts the takes."""
    now = now or utcnow()
    with _transaction(session):
        candidates = list(session.scalars(
            select(Job.id).where(_claimable(now)).order_by(Job.id).limit(8)))
        for job_id in candidates:
            taken = session.execute(
                update(Job).where(Job.id == job_id, _claimable(now))
                .values(state="running", worker=worker, lease_until=now + lease,
                        attempts=Job.attempts + 1, updated=now)
                .execution_options(synchronize_session=False))
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return job_id
    return None


def renew_lease(session: Session, *, job_id: int, worker: str, lease: dt.timedelta) -> bool:
    """Extend the lease of a job this worker holds; False when it holds it no more."""
    now = utcnow()
    with _transaction(session):
        done = session.execute(
            update(Job).where(Job.id == job_id, Job.worker == worker, Job.state == "running")
            .values(lease_until=now + lease, updated=now)
            .execution_options(synchronize_session=False))
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def finish_item(session: Session, *, job_id: int, position: int, track_id: int | None = None,
                created: bool | None = None, error: str | None = None,
                status: int | None = None) -> None:
    """Record one file's outcome: its track, or the error it gave (with its HTTP status)."""
    with _transaction(session):
        session.execute(
            update(JobItem).where(JobItem.job_id == job_id, JobItem.position == position)
            .values(state="failed" if error is not None else "done", track_id=track_id,
                    created_track=created, error=error, status=status)
            .execution_options(synchronize_session=False))


def finish_job(session: Session, *, job_id: int, worker: str, error: str | None = None) -> bool:
    """End a job this worker holds: ``failed`` when a file failed or ``error`` is given,
    else ``done``; its webhook becomes due now if it has a callback. False when the worker
    no longer held it (its lease ran out and another took it over)."""
    now = utcnow()
    with _transaction(session):
        failed = error is not None or session.scalar(
            select(JobItem.position).where(JobItem.job_id == job_id,
                                           JobItem.state == "failed").limit(1)) is not None
        callback = session.scalar(select(Job.callback_url).where(Job.id == job_id))
        done = session.execute(
            update(Job).where(Job.id == job_id, Job.worker == worker, Job.state == "running")
            .values(state="failed" if failed else "done", error=error, lease_until=None,
                    updated=now, webhook_state="pending" if callback else "none",
                    webhook_next_at=now if callback else None)
            .execution_options(synchronize_session=False))
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def claim_webhook(session: Session, *, lease: dt.timedelta,
                  now: dt.datetime | None = None) -> int | None:
    """Take the job whose webhook is due soonest (pushing its due time ``lease`` ahead, so
    no other worker sends it meanwhile): its id, or None."""
    now = now or utcnow()
    with _transaction(session):
        candidates = list(session.scalars(
            select(Job.id).where(Job.webhook_state == "pending", Job.webhook_next_at <= now)
            .order_by(Job.webhook_next_at).limit(8)))
        for job_id in candidates:
            taken = session.execute(
                update(Job).where(Job.id == job_id, Job.webhook_state == "pending",
                                  Job.webhook_next_at <= now)
                .values(webhook_next_at=now + lease)
                .execution_options(synchronize_session=False))
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return job_id
    return None


def record_attempt(session: Session, *, job_id: int, status_code: int | None,
                   error: str | None, delivered: bool, retry_at: dt.datetime | None) -> int:
    """Log one delivery try and move the webhook on: ``delivered``; due again at
    ``retry_at``; or ``failed`` when ``retry_at`` is None. The attempt's number."""
    with _transaction(session):
        job = session.get(Job, job_id, with_for_update=True)  # SQLite: its write lock
        if job is None:
            raise JobNotFound(job_id)
        job.webhook_attempts += 1
        session.add(WebhookAttempt(job_id=job_id, attempt=job.webhook_attempts,
                                   status_code=status_code, error=error, delivered=delivered))
        if delivered:
            job.webhook_state, job.webhook_next_at = "delivered", None
        elif retry_at is None:
            job.webhook_state, job.webhook_next_at = "failed", None
        else:
            job.webhook_next_at = retry_at
        return job.webhook_attempts

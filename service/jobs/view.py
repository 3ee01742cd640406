"""A job as clients see it: ``GET /jobs/{id}`` and the webhook body give the same JSON."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.models import Job
from service.schemas import JobItemPublic, JobPublic, WebhookAttemptPublic, WebhookPublic
from service.store import jobs as job_store


def job_public(session: Session, job_id: int) -> JobPublic:
    job: Job = job_store.get_job(session, job_id=job_id)
    webhook = None
    if job.callback_url is not None:
        attempts = job_store.webhook_attempts(session, job_id=job_id)
        webhook = WebhookPublic(url=job.callback_url, state=job.webhook_state, attempts=[
            WebhookAttemptPublic(attempt=a.attempt, at=a.at, status_code=a.status_code,
                                 error=a.error, delivered=a.delivered) for a in attempts])
    return JobPublic(
        id=job.id, state=job.state, created=job.created, updated=job.updated,
        attempts=job.attempts, error=job.error, webhook=webhook,
        items=[JobItemPublic(position=i.position, filename=i.filename, state=i.state,
                             track_id=i.track_id, created=i.created_track, error=i.error,
                             status=i.status) for i in job.items])

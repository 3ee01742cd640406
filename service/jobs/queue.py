"""Submitting jobs and reading them back: what the HTTP routes use."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from service.jobs.spool import Spool
from service.jobs.view import job_public
from service.jobs.webhooks import check_callback_url
from service.schemas import JobPublic
from service.store import jobs as job_store


@dataclass(frozen=True)
class Upload:
    """One file of a submission: its bytes (a readable file), its name, its metadata."""

    file: BinaryIO
    filename: str | None
    meta: Mapping[str, Any]


class JobQueue:
    def __init__(self, sessions: Callable[[], Session], spool: Spool,
                 webhook_hosts: frozenset[str]) -> None:
        self.sessions = sessions
        self.spool = spool
        self.webhook_hosts = webhook_hosts

    def submit(self, uploads: Sequence[Upload], callback_url: str | None = None) -> JobPublic:
        """Spool the files and queue one job for them; nothing is left behind on error.

        Raises:
            InvalidValue: a callback URL to a host that is not allowed (or malformed).
        """
        if callback_url is not None:
            check_callback_url(callback_url, self.webhook_hosts)
        names: list[str] = []
        try:
            for upload in uploads:
                names.append(self.spool.put(upload.file))
            items = [job_store.NewItem(spool=name, filename=u.filename, meta=u.meta)
                     for name, u in zip(names, uploads, strict=True)]
            with self.sessions() as session:
                job = job_store.create_job(session, items=items, callback_url=callback_url)
                return job_public(session, job.id)
        except BaseException:
            for name in names:
                self.spool.remove(name)
            raise

    def get(self, job_id: int) -> JobPublic:
        with self.sessions() as session:
            return job_public(session, job_id)

"""Background jobs: uploads spooled to disk, ingested by whichever worker claims them, their
outcome reported to a callback URL by signed webhook (docs/operations.md "Jobs")."""

from service.jobs.runner import JobConfig, JobRunner
from service.jobs.spool import Spool
from service.jobs.webhooks import SIGNATURE_HEADER, check_callback_url, sign, verify

__all__ = ["SIGNATURE_HEADER", "JobConfig", "JobRunner", "Spool", "check_callback_url", "sign",
           "verify"]

"""One settings class, read once. Every field is documented in README.md (Configuration).

Environment variables use the prefix ``MUSICPRISM_`` (``MUSICPRISM_DATA_DIR`` ...), except
``DATABASE_URL``, the name every deployment tool already uses.
"""

from __future__ import annotations

import os
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from layout.numbers import NumberSyntaxError, parse_decimal, parse_int

INSECURE_KEYS = {"changethis", "changeme", "secret", "password"}
ENV_PREFIX = "MUSICPRISM_"
# Variables with the prefix that are not settings: the test suite's own.
FOREIGN_PREFIXES = ("MUSICPRISM_TEST_",)


class UnknownSetting(ValueError):
    """A MUSICPRISM_ variable that names no setting (most often a misspelling)."""

    def __init__(self, names: list[str], valid: list[str]) -> None:
        self.names = names
        super().__init__(
            f"unknown setting(s) {', '.join(names)} in the environment; valid: {', '.join(valid)}"
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MUSICPRISM_", extra="forbid", frozen=True)

    environment: str = Field("development", description="development | production")
    data_dir: Path = Field(Path("data"), description="Indexes, ingested copies, SQLite file.")
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "MUSICPRISM_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL; default sqlite:///<data_dir>/musicprism.db",
    )
    model_path: Path | None = Field(
        None, description="Checkpoint file; default: the shipped model (model/weights/)."
    )
    api_key: str | None = Field(
        None, description="Key for write routes (X-API-Key header). Unset: writes refused."
    )
    index_factory: str = Field(
        "IDMap2,Flat", description="FAISS factory string for every index (inner product)."
    )
    max_upload_bytes: int = Field(64 * 1024 * 1024, gt=0, description="Upload size limit.")
    max_audio_seconds: float = Field(
        1800.0, gt=0, description="Longest decoded audio accepted (ingest and queries)."
    )
    min_audio_seconds: float = Field(1.0, gt=0, description="Shortest audio accepted.")
    max_k: int = Field(100, gt=0, le=10_000, description="Largest k a query may ask for.")
    torch_threads: int = Field(1, ge=1, description="torch intra-op threads per worker.")
    faiss_threads: int = Field(1, ge=1, description="FAISS OpenMP threads per worker.")
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")
    index_mmap: bool | None = Field(
        None,
        description=(
            "Serve memory-mapped index snapshots (one copy in the page cache for all workers) "
            "plus a small in-memory delta per worker. Unset: on when workers > 1."
        ),
    )
    index_delta_max: int = Field(
        10_000,
        ge=1,
        description=(
            "With index_mmap: changes (added, replaced or removed tracks) a worker holds beside "
            "the snapshot before one worker writes a new snapshot that all then map."
        ),
    )
    fingerprints: bool = Field(
        True,
        description=(
            "Store a landmark fingerprint of every ingested track, and put the catalogue "
            "recording a POST /similar clip is cut from first (with a match)."
        ),
    )
    fingerprint_min_aligned: int = Field(
        8,
        ge=3,
        description=(
            "Fewest fingerprint hashes that must agree on one time offset before a clip is "
            "said to come from a catalogue recording; a match also needs more than chance "
            "would give at the catalogue's size, 5 % of the clip's hashes and an overlap "
            "with the claimed stretch of the recording (docs/fingerprints.md)."
        ),
    )
    keep_audio: bool = Field(
        True,
        description=(
            "Keep a copy of each ingested track's audio under <data_dir>/audio (one file per "
            "content hash), which GET /tracks/{id}/audio streams to the page; deleted with "
            "its track."
        ),
    )
    job_workers: int = Field(
        1,
        ge=0,
        le=64,
        description=(
            "Threads per serving process that work background jobs (POST /tracks?async=true, "
            "POST /jobs); 0 leaves them to `musicprism worker` processes."
        ),
    )
    job_lease_seconds: float = Field(
        60.0,
        gt=0,
        le=86_400,
        description=(
            "How long a worker holds a job without renewing it (it renews after every file); a "
            "job whose worker died is taken over this long after its last file."
        ),
    )
    job_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often an idle job worker looks for work."
    )
    webhook_hosts: str = Field(
        "",
        description=(
            "Comma-separated hosts (host, or host:port for one port) that job callbacks may "
            "name; empty: no webhooks."
        ),
    )
    webhook_secret: str | None = Field(
        None,
        description=(
            "Key of the HMAC-SHA256 signature in each webhook's Musicprism-Signature header "
            "(needed with webhook_hosts)."
        ),
    )
    webhook_max_attempts: int = Field(
        6, ge=1, le=50, description="Deliveries tried before a webhook is given up."
    )
    webhook_backoff_seconds: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="Wait before the second delivery try; it doubles for each next one.",
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, le=120, description="How long one delivery try waits for an answer."
    )
    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, ge=1, le=65535, description="Port to bind.")
    ingest_root: Path | None = Field(
        None, description="Only folders under this root may be ingested by path."
    )
    log_level: str = Field("info", description="debug | info | warning | error")

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_variables(cls, data: Any) -> Any:
        """A misspelt variable would silently keep its default: refuse it instead."""
        valid = {ENV_PREFIX + name.upper() for name in cls.model_fields}
        unknown = sorted(
            k
            for k in os.environ
            if k.startswith(ENV_PREFIX) and k not in valid and not k.startswith(FOREIGN_PREFIXES)
        )
        if unknown:
            raise UnknownSetting(unknown, sorted(valid))
        return data

    @model_validator(mode="before")
    @classmethod
    def _plain_numbers(cls, data: Any) -> Any:
        """Numbers in the environment follow the API's grammar (layout.numbers): ``1_0``,
        ``١`` or ``inf`` are refused, not read as 10, 1 or infinity."""
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            kinds = set(typing.get_args(field.annotation)) or {field.annotation}
            for key in (name, ENV_PREFIX + name.upper(), ENV_PREFIX.lower() + name):
                value = data.get(key)
                if not isinstance(value, str) or not kinds & {int, float}:
                    continue
                try:
                    (parse_int if int in kinds else parse_decimal)(value.strip())
                except NumberSyntaxError as exc:
                    raise ValueError(f"invalid setting {name}: {exc}") from None
        return data

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: str) -> str:
        if v not in {"development", "production", "test"}:
            raise ValueError(f"environment must be development, production or test, got '{v}'")
        return v

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, v: str) -> str:
        if v.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError(f"log_level must be debug, info, warning or error, got '{v}'")
        return v.lower()

    @model_validator(mode="after")
    def _secrets(self) -> Settings:
        if self.environment == "production":
            if not self.api_key or self.api_key.lower() in INSECURE_KEYS:
                raise ValueError("MUSICPRISM_API_KEY must be set to a real secret in production")
            if len(self.api_key) < 16:
                raise ValueError("MUSICPRISM_API_KEY must be at least 16 characters in production")
        if self.webhook_hosts.strip() and len(self.webhook_secret or "") < 16:
            raise ValueError("MUSICPRISM_WEBHOOK_SECRET must be set (at least 16 characters) "
                             "when MUSICPRISM_WEBHOOK_HOSTS allows webhooks")
        if self.min_audio_seconds >= self.max_audio_seconds:
            raise ValueError("min_audio_seconds must be below max_audio_seconds")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'musicprism.db').resolve()}"

    @property
    def use_index_mmap(self) -> bool:
        """``index_mmap``, or its default: on when several workers share the machine."""
        return self.workers > 1 if self.index_mmap is None else self.index_mmap

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"

    @property
    def jobs_dir(self) -> Path:
        """Where uploads wait for their job (shared by every process that works jobs)."""
        return self.data_dir / "jobs"


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()

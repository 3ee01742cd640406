"""Fixtures of the reliability tests: a deployment on the parametrized store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.helpers import Deployment, make_deployment


@pytest.fixture
def deployment(tmp_path: Path, database_url: str) -> Deployment:
    """A fresh deployment (empty, migrated store; tiny encoder) under ``tmp_path``."""
    return make_deployment(tmp_path / "site", database_url)

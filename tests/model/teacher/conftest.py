"""The musicnn wheel for tests that run the real port.

``MUSICPRISM_TEST_TEACHER_WHEEL_DIR`` names the folder that holds (or will hold) the wheel;
default ``~/.cache/musicprism/wheels``. :func:`ensure_wheel` downloads it there with pip
(hash-pinned) when it is missing, so a fresh machine needs PyPI access once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.teacher.musicnn import Musicnn, load_musicnn
from model.teacher.weights import ensure_wheel

WHEEL_DIR_ENV = "MUSICPRISM_TEST_TEACHER_WHEEL_DIR"


@pytest.fixture(scope="session")
def musicnn_wheel() -> Path:
    default = Path.home() / ".cache" / "musicprism" / "wheels"
    return ensure_wheel(Path(os.environ.get(WHEEL_DIR_ENV, default)))


@pytest.fixture(scope="session")
def musicnn_model(musicnn_wheel: Path) -> Musicnn:
    return load_musicnn(musicnn_wheel)

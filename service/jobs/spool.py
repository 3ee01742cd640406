"""Uploads waiting for their job: one file per upload under ``<data_dir>/jobs``, shared by
every process that may work the job (the data directory is the one volume they share)."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

_NAME = re.compile(r"[0-9a-f]{32}")
_CHUNK = 1 << 20


class Spool:
    """Files named by a random token; a name that is not such a token is refused, so a name
    read back from the store can never reach outside the folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, source: BinaryIO | bytes) -> str:
        """Write an upload (bytes or a readable file, from its current position) and return
        its name. Written to a temporary name, flushed to disk, then renamed: a name in the
        store always refers to a whole file."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        part = self.root / f"{name}.part"
        try:
            with open(part, "wb") as out:
                if isinstance(source, bytes):
                    out.write(source)
                else:
                    shutil.copyfileobj(source, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, self.root / name)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return name

    def path(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a spool name: {name!r}")
        return self.root / name

    def remove(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

"""An :class:`~service.catalog.recordings.Analysis` as bytes, for analyses computed on other
machines (service/ingest_ray.py).

Plain arrays in an ``.npz`` container, read back with ``allow_pickle=False``: what crosses the
boundary is data, never code, and a worker's result holds no class that the driver would
have to unpickle.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from model.embed import TrackEmbedding
from model.fingerprint import Fingerprint
from service.catalog.recordings import Analysis

EMBEDDING = ("windows", "vector", "tag_probs")


def pack(analysis: Analysis) -> bytes:
    """``analysis`` as the bytes of an ``.npz`` file (arrays keep their dtype and shape)."""
    arrays: dict[str, Any] = {  # Any: np.savez's keywords are typed as its own flags
        "duration": np.float64(analysis.duration),
        "embed_seconds": np.float64(analysis.embed_seconds),
    }
    emb, fp = analysis.embedding, analysis.fingerprint
    if emb is not None:
        arrays.update({f"emb_{k}": getattr(emb, k) for k in EMBEDDING})
        arrays["emb_seconds"] = np.array([emb.window_seconds, emb.hop_seconds])
    if fp is not None:
        arrays.update(fp_hashes=fp.hashes, fp_times=fp.times, fp_version=np.int64(fp.version))
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def unpack(data: bytes) -> Analysis:
    """The analysis :func:`pack` wrote."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        emb = fp = None
        if "emb_vector" in z:
            window_s, hop_s = (float(s) for s in z["emb_seconds"])
            emb = TrackEmbedding(**{k: z[f"emb_{k}"] for k in EMBEDDING},
                                 window_seconds=window_s, hop_seconds=hop_s)
        if "fp_hashes" in z:
            fp = Fingerprint(hashes=z["fp_hashes"], times=z["fp_times"],
                             version=int(z["fp_version"]))
        return Analysis(duration=float(z["duration"]), embedding=emb, fingerprint=fp,
                        embed_seconds=float(z["embed_seconds"]))

"""Full-space HNSW indexes as ``Searcher``s: FAISS (through musicprism), hnswlib, usearch.

Both are built with inner product over float32 vectors (usearch is told ``dtype="f32"``:
left to itself it may store f16 or bf16, which would not be a like-for-like comparison),
with the same graph degree ``M`` and ``efConstruction`` as the FAISS HNSW they are compared
with. These libraries are optional (the ``bench`` extra); ``available()`` says which are.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from index import FaissIndex, set_threads

logger = logging.getLogger(__name__)

LIBRARIES = ("hnswlib", "usearch")
# What FAISS's "HNSW{M},Flat" factory strings build with (musicprism cannot change it).
FAISS_EF_CONSTRUCTION = 40


def available() -> list[str]:
    """The comparison libraries importable here."""
    return [name for name in LIBRARIES if importlib.util.find_spec(name) is not None]


class HnswlibSearcher:
    """An ``hnswlib.Index`` (space ``ip``) over ids ``0..N-1``."""

    param_name = "ef_search"

    def __init__(self, dim: int, m: int, ef_construction: int) -> None:
        import hnswlib

        self.name = "hnswlib"
        self.dim, self.m, self.ef_construction = dim, m, ef_construction
        self._hnswlib = hnswlib
        self.index: Any = None
        self.threads = 1

    def build(self, xb: np.ndarray, threads: int) -> None:
        """Insert (N, D) float32 vectors with ids 0..N-1 using ``threads`` threads."""
        index = self._hnswlib.Index(space="ip", dim=self.dim)
        index.init_index(max_elements=len(xb), ef_construction=self.ef_construction, M=self.m)
        index.add_items(xb, np.arange(len(xb)), num_threads=threads)
        self.index = index

    def set_param(self, value: int) -> None:
        self.index.set_ef(value)

    def set_threads(self, n: int) -> None:
        self.threads = n

    def search(self, xq: np.ndarray, k: int) -> np.ndarray:
        labels, _ = self.index.knn_query(xq, k=k, num_threads=self.threads)
        return np.asarray(labels, dtype=np.int64)

    def serialized_bytes(self) -> int:
        """Size of the index as ``save_index`` writes it."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "index.bin"
            self.index.save_index(str(path))
            return path.stat().st_size


class UsearchSearcher:
    """A ``usearch.index.Index`` (metric ``ip``, ``f32`` storage) over keys ``0..N-1``."""

    param_name = "ef_search"

    def __init__(self, dim: int, m: int, ef_construction: int) -> None:
        from usearch.index import Index

        self.name = "usearch"
        self.index: Any = Index(
            ndim=dim, metric="ip", dtype="f32", connectivity=m, expansion_add=ef_construction
        )
        self.threads = 1

    def build(self, xb: np.ndarray, threads: int) -> None:
        """Insert (N, D) float32 vectors with keys 0..N-1 using ``threads`` threads."""
        self.index.add(np.arange(len(xb), dtype=np.uint64), xb, threads=threads)

    def set_param(self, value: int) -> None:
        self.index.expansion_search = value

    def set_threads(self, n: int) -> None:
        self.threads = n

    def search(self, xq: np.ndarray, k: int) -> np.ndarray:
        matches = self.index.search(xq, k, threads=self.threads)
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(len(xq), -1)
        if keys.shape[1] < k:  # usearch returns fewer columns when fewer results exist
            pad = np.full((len(xq), k - keys.shape[1]), -1, dtype=np.int64)
            keys = np.hstack([keys, pad])
        return keys

    def serialized_bytes(self) -> int:
        """Size of the index as ``save`` writes it."""
        return int(self.index.serialized_length)


class FaissSearcher:
    """musicprism's ``FaissIndex`` with ``HNSW{m},Flat`` (efConstruction: FAISS's 40)."""

    param_name = "ef_search"

    def __init__(self, dim: int, m: int) -> None:
        self.name = "faiss"
        self.index = FaissIndex(dim, f"HNSW{m},Flat", name="full")

    def build(self, xb: np.ndarray, threads: int) -> None:
        """Insert (N, D) float32 vectors with ids 0..N-1 using ``threads`` threads."""
        set_threads(threads)
        self.index.reset(np.arange(len(xb), dtype=np.int64), xb)

    def set_param(self, value: int) -> None:
        self.index.set_search_params(ef_search=value)

    def set_threads(self, n: int) -> None:
        set_threads(n)

    def search(self, xq: np.ndarray, k: int) -> np.ndarray:
        return self.index.search(xq, k)[1]

    def serialized_bytes(self) -> int:
        """Size of the index as ``FaissIndex.write`` writes it."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "full.faiss"
            self.index.write(path)
            return path.stat().st_size


def make_searcher(library: str, dim: int, m: int, ef_construction: int) -> Any:
    """An unbuilt HNSW searcher of ``library`` ("faiss" or one of ``LIBRARIES``)."""
    if library == "faiss":
        if ef_construction != FAISS_EF_CONSTRUCTION:
            raise ValueError(
                f"FAISS factory strings build HNSW with efConstruction "
                f"{FAISS_EF_CONSTRUCTION}, not {ef_construction}"
            )
        return FaissSearcher(dim, m)
    if library == "hnswlib":
        return HnswlibSearcher(dim, m, ef_construction)
    if library == "usearch":
        return UsearchSearcher(dim, m, ef_construction)
    raise ValueError(f"unknown library '{library}'; valid: faiss, {', '.join(LIBRARIES)}")

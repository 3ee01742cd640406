"""Building and inspecting FAISS indexes from factory strings (inner product everywhere).

Layouts, chosen so that FAISS ids are track ids and ``remove``/``reconstruct`` work:

- IVF indexes (``IVF256,Flat``, ``IVF1024,PQ32``, ``IVF256,SQ8``) take ids natively; their
  direct map is a hash table, so any int64 id can be reconstructed and removed. An
  ``IDMap``/``IDMap2`` prefix is dropped for them: ``IndexIDMap.remove_ids`` assumes the
  sub-index renumbers its vectors, which IVF does not.
- Everything else (``Flat``, ``HNSW32,Flat`` ...) is wrapped in ``IndexIDMap2``.
"""

from __future__ import annotations

from typing import Any

import faiss as _faiss
import numpy as np

from index.errors import FactoryError

# The SWIG bindings' type stubs lack DirectMap, SearchParametersHNSW and keyword constructors.
faiss: Any = _faiss

DEFAULT_FACTORY = "IDMap2,Flat"
# FAISS k-means warns below 39 training points per centroid; we wait for that many.
POINTS_PER_CENTROID = 39
# Scalar quantizers and other trained codecs learn value ranges: ask for a sane minimum.
MIN_TRAIN_FLOOR = 256
_IDMAP_PREFIXES = ("IDMap2,", "IDMap,")


def build_index(dim: int, factory: str) -> Any:
    """An empty FAISS index for ``factory`` over ``dim`` dimensions, inner product metric.

    Raises:
        FactoryError: FAISS cannot build ``factory`` for ``dim`` (e.g. PQ32 on 16 dims).
    """
    inner = factory.strip()
    for prefix in _IDMAP_PREFIXES:
        if inner.startswith(prefix):
            inner = inner[len(prefix) :]
    try:
        index = faiss.index_factory(dim, inner, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as e:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)
        raise FactoryError(factory, dim, reason) from None
    if isinstance(index, faiss.IndexIDMap):
        raise FactoryError(factory, dim, "IDMap may only appear once, at the start")
    for part in _codecs(index):
        # Polysemous training permutes PQ codes for Hamming pre-filtering, which we never
        # use, and it dominates PQ training time (measured: 63 s vs 7.5 s, IVF64,PQ16, 10k x 64).
        if hasattr(part, "do_polysemous_training"):
            part.do_polysemous_training = False
    ivf = ivf_of(index)
    if ivf is not None:
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        return index
    return faiss.IndexIDMap2(index)


def exact_index(dim: int) -> Any:
    """The exact fallback: ``IDMap2,Flat`` with inner product."""
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def core_of(index: Any) -> Any:
    """The index under any ``IndexIDMap``/``IndexPreTransform`` wrappers."""
    while isinstance(index, (faiss.IndexIDMap, faiss.IndexPreTransform)):
        index = faiss.downcast_index(index.index)
    return index


def ivf_of(index: Any) -> Any | None:
    """The ``IndexIVF`` inside ``index``, or ``None``."""
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def hnsw_of(index: Any) -> Any | None:
    """The ``IndexHNSW`` inside ``index``, or ``None``."""
    core = core_of(index)
    return core if isinstance(core, faiss.IndexHNSW) else None


def supports_remove(index: Any) -> bool:
    """Whether ``remove_ids`` works in place (graph indexes cannot remove vectors)."""
    return not isinstance(core_of(index), (faiss.IndexHNSW, faiss.IndexNSG))


def min_train_size(index: Any) -> int:
    """Vectors needed before training ``index`` gives a sound codebook (0: no training)."""
    if index.is_trained:
        return 0
    need = MIN_TRAIN_FLOOR
    ivf = ivf_of(index)
    if ivf is not None:
        need = max(need, POINTS_PER_CENTROID * ivf.nlist)
    for part in _codecs(index):
        pq = getattr(part, "pq", None)
        if pq is not None:
            need = max(need, POINTS_PER_CENTROID * pq.ksub)
    return need


def _codecs(index: Any) -> list[Any]:
    """The core index, and the storage index of a graph index (which holds its codes)."""
    core = core_of(index)
    storage = getattr(core, "storage", None)
    return [core] if storage is None else [core, faiss.downcast_index(storage)]


def stored_ids(index: Any) -> np.ndarray:
    """Every id held by an index built by ``build_index`` or ``exact_index``, unsorted."""
    if isinstance(index, faiss.IndexIDMap):
        return np.asarray(faiss.vector_to_array(index.id_map), dtype=np.int64)
    ivf = ivf_of(index)
    if ivf is None:
        raise TypeError(f"cannot list the ids of a {type(index).__name__}")
    invlists = ivf.invlists
    parts = [np.empty(0, dtype=np.int64)]
    for list_no in range(ivf.nlist):
        size = invlists.list_size(list_no)
        if size:
            ptr = invlists.get_ids(list_no)
            parts.append(faiss.rev_swig_ptr(ptr, size).copy())
            invlists.release_ids(list_no, ptr)
    return np.concatenate(parts)


def search_params(index: Any, sel: Any, nprobe: int, ef_search: int) -> Any:
    """The ``SearchParameters`` subclass this index reads, carrying the selector."""
    return params_for_kind(kind_of(index), sel, nprobe, ef_search)


def params_for_kind(kind: str, sel: Any, nprobe: int, ef_search: int) -> Any:
    """:func:`search_params` for an index of a known :func:`kind_of` (finding the kind costs
    more than the search's own overhead: a failed IVF extraction raises in FAISS)."""
    if kind == "ivf":
        return faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
    if kind == "hnsw":
        return faiss.SearchParametersHNSW(sel=sel, efSearch=ef_search)
    return faiss.SearchParameters(sel=sel)


def mmap_flags(index_kind: str) -> int:
    """``read_index`` flags that memory-map an index file of this kind, read-only.

    In faiss 1.15, ``IO_FLAG_MMAP`` maps IVF inverted lists but still copies flat codes;
    flat and graph storage is mapped by ``IO_FLAG_MMAP_IFC`` (measured: a 50 MiB
    ``IDMap2,Flat`` file costs 59 MiB of anonymous memory with the first, 10 MiB with the
    second, the rest being the id map).
    """
    base = faiss.IO_FLAG_MMAP if index_kind == "ivf" else faiss.IO_FLAG_MMAP_IFC
    return int(base | faiss.IO_FLAG_READ_ONLY)


def kind_of(index: Any) -> str:
    """``"ivf"``, ``"hnsw"`` or ``"flat"`` (flat codes: Flat, PQ, SQ without IVF)."""
    if ivf_of(index) is not None:
        return "ivf"
    return "hnsw" if hnsw_of(index) is not None else "flat"

"""One FAISS thread in index tests: the CI machine is small and shared, and OpenMP spinning
under contention makes timings erratic. Results do not depend on the thread count."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from index import set_threads


@pytest.fixture(autouse=True, scope="session")
def _one_faiss_thread() -> Iterator[None]:
    previous = set_threads(1)
    yield
    set_threads(previous)

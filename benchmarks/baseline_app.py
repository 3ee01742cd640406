"""The baseline: a similarity API built the way public demos build it, to compare against.

One FastAPI ``async`` route decodes, embeds and searches a flat inner-product FAISS index
right on the event loop (so one slow upload stalls every other request), and similar-by-id
is a plain ``async`` handler over an in-memory dict; no store, no facets, no explanations,
torch and FAISS left at their default thread counts. It serves the same vectors and the same
model as musicprism, decodes with the same ``model.audio.decode``, and answers with ids,
titles and scores.

Served by ``uvicorn --factory benchmarks.baseline_app:app_from_env`` with
``MUSICPRISM_BENCH_BASELINE`` naming an ``.npz`` of ``ids``, ``vectors`` and ``titles``;
``MUSICPRISM_BENCH_BASELINE_THREADS`` sets torch and FAISS threads (a variant that isolates
what the defaults cost from what the event-loop design costs).
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np
from fastapi import FastAPI, File, HTTPException, UploadFile

from model.audio import decode
from model.checkpoint import LoadedModel, load_checkpoint
from model.embed import Embedder
from service.app import DEFAULT_MODEL

DATA_ENV = "MUSICPRISM_BENCH_BASELINE"
# Unset: torch and FAISS keep their defaults (all cores), as demos do. Set: that many threads.
THREADS_ENV = "MUSICPRISM_BENCH_BASELINE_THREADS"


def create_baseline_app(
    model: LoadedModel, ids: np.ndarray, vectors: np.ndarray, titles: list[str]
) -> FastAPI:
    """The demo-style app over (N,) ids, (N, D) unit vectors and N titles."""
    embedder = Embedder(model)
    xb = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(xb.shape[1])
    index.add(xb)
    row_of = {int(t): row for row, t in enumerate(ids)}
    app = FastAPI(title="baseline")

    def answer(scores: np.ndarray, rows: np.ndarray, k: int, skip: int | None) -> dict:
        hits = [
            {"id": int(ids[r]), "title": titles[r], "score": float(s)}
            for s, r in zip(scores, rows, strict=True)
            if r >= 0 and int(ids[r]) != skip
        ]
        return {"results": hits[:k]}

    @app.get("/readyz")
    async def readyz() -> dict:
        return {"status": "ready", "tracks": index.ntotal}

    @app.get("/similar/{track_id}")
    async def similar_by_id(track_id: int, k: int = 10) -> dict:
        row = row_of.get(track_id)
        if row is None:
            raise HTTPException(404, f"track {track_id} not found")
        D, I = index.search(xb[row : row + 1], k + 1)  # noqa: E741 - FAISS names
        return answer(D[0], I[0], k, track_id)

    @app.post("/similar")
    async def similar_to_clip(file: UploadFile = File(...), k: int = 10) -> dict:  # noqa: B008
        data = await file.read()
        samples = decode(data, sample_rate=embedder.sample_rate).samples
        vector = embedder.embed(samples).vector
        D, I = index.search(vector[None, :].astype(np.float32), k)  # noqa: E741
        return answer(D[0], I[0], k, None)

    return app


def save_baseline_data(path: Path, ids: np.ndarray, vectors: np.ndarray, titles: list[str]) -> None:
    """Write what :func:`app_from_env` serves."""
    np.savez(path, ids=ids.astype(np.int64), vectors=vectors.astype(np.float32),
             titles=np.array(titles, dtype=str))


def app_from_env() -> FastAPI:
    """Entry point for ``uvicorn --factory``."""
    threads = os.environ.get(THREADS_ENV)
    if threads:
        import torch

        torch.set_num_threads(int(threads))
        faiss.omp_set_num_threads(int(threads))
    data = np.load(os.environ[DATA_ENV])
    model = load_checkpoint(DEFAULT_MODEL)
    return create_baseline_app(model, data["ids"], data["vectors"], data["titles"].tolist())

"""Tag search on the demo catalogue: is what ``GET /search?tag=…`` returns labelled so?

    python -m benchmarks.tag_search [--data-dir DIR] [--model PATH] [--k 10]

Builds the demo catalogue exactly as ``make serve`` does (``musicprism demo``: the bench-ci
corpus rendered and ingested; an existing one in ``--data-dir`` is reused), then asks the
running app, through HTTP, for the top k tracks of every tag and scores them against the
labels the corpus was rendered with (its manifest). Precision@k per tag, and its mean per
concept; the number of catalogue tracks that carry each tag bounds what is reachable.
Writes benchmarks/results/tag_search.{md,json}.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    command_line,
    markdown_table,
    meta_block,
    meta_markdown,
    publish,
)
from service.app import DEFAULT_MODEL

RESULTS = Path(__file__).resolve().parent / "results" / "tag_search"


def manifest_tags(manifest: Path) -> dict[str, set[str]]:
    """Audio path (relative to the corpus, as ingest stores it in ``source``) -> its tags."""
    with manifest.open(newline="") as fh:
        return {row["path"]: set(filter(None, row["tags"].split(";")))
                for row in csv.DictReader(fh)}


def precision(returned: list[set[str]], tag: str) -> float:
    """Share of ``returned`` (the tags of each result) that carry ``tag``; 0 when empty."""
    return sum(tag in tags for tags in returned) / len(returned) if returned else 0.0


def run(data_dir: Path, model: Path, k: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.demo import ensure_demo
    from service.settings import Settings

    settings = Settings(data_dir=data_dir, model_path=model, environment="test")
    ensure_demo(settings, progress=False)
    truth = manifest_tags(data_dir / "datasets" / "bench-ci" / "manifest.csv")
    rows = []
    with TestClient(create_app(settings)) as client:
        sources = {}
        tags = client.get("/tags").json()["tags"]
        for t in tags:
            hits = client.get("/search", params={"tag": t["name"], "k": k}).json()["results"]
            returned = []
            for h in hits:
                tid = h["track"]["id"]
                if tid not in sources:
                    sources[tid] = client.get(f"/tracks/{tid}").json()["source"]
                returned.append(truth.get(sources[tid], set()))
            carriers = sum(t["name"] in v for v in truth.values())
            rows.append({"tag": t["name"], "concept": t["concept"], "carriers": carriers,
                         "precision": precision(returned, t["name"])})
    by_concept: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r["carriers"] >= k:  # a tag with fewer carriers than k cannot reach 1.0
            by_concept[r["concept"]].append(r["precision"])
    return {"k": k, "tracks": len(truth), "rows": rows,
            "mean_by_concept": {c: float(np.mean(v)) for c, v in by_concept.items()}}


def report(result: dict[str, Any], meta: dict[str, Any]) -> str:
    k = result["k"]
    return "\n\n".join([
        "# Tag search on the demo catalogue",
        meta_markdown(meta) + f"\nModel: `{result['model']}`",
        f"`GET /search?tag=…&k={k}` over the demo catalogue of `make serve` ({result['tracks']} "
        "clips of bench-ci, rendered from music21 scores; its pieces may overlap the model's "
        "training set), each result checked against the labels it was rendered with. "
        f"'carriers': catalogue clips labelled with the tag (precision@{k} can reach 1 only "
        f"with at least {k}).",
        f"Mean precision@{k} per concept, over tags with at least {k} carriers: " + ", ".join(
            f"{c} {v:.2f}" for c, v in result["mean_by_concept"].items()),
        markdown_table(["tag", "concept", "carriers", f"precision@{k}"],
                       [[r["tag"], r["concept"], r["carriers"], r["precision"]]
                        for r in result["rows"]]),
    ])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="where the demo catalogue is (or is built); default: a temporary one")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    from model.checkpoint import load_checkpoint

    meta = meta_block(command_line("benchmarks.tag_search", argv))
    with tempfile.TemporaryDirectory(prefix="mp-tag-search-") as tmp:
        result = run(args.data_dir or Path(tmp), args.model, args.k)
    result["model"] = load_checkpoint(args.model).version
    publish(args.out, meta, result, report)


if __name__ == "__main__":
    main()

"""benchmarks/tag_search.py: the manifest reader and precision@k, on hand-made cases."""

from __future__ import annotations

from benchmarks.tag_search import manifest_tags, precision


def test_precision_is_the_share_of_results_with_the_tag():
    returned = [{"jazz", "piano"}, {"rock"}, {"jazz"}, set()]
    assert precision(returned, "jazz") == 0.5
    assert precision(returned, "rock") == 0.25
    assert precision(returned, "sad") == 0.0
    assert precision([], "jazz") == 0.0


def test_manifest_tags_maps_paths_to_tag_sets(tmp_path):
    m = tmp_path / "manifest.csv"
    m.write_text("path,track_id,tags\naudio/a.flac,a,jazz;piano\naudio/b.flac,b,\n")
    assert manifest_tags(m) == {"audio/a.flac": {"jazz", "piano"}, "audio/b.flac": set()}

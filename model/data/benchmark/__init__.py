"""The synthesised benchmark: labelled clips rendered from the music21 corpus (docs/dataset.md).

Entry point: :func:`model.data.benchmark.build.build` (``musicprism dataset build``).
"""

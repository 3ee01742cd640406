"""Benchmarks of musicprism components; results are committed under ``benchmarks/results``."""

"""Reliability: crash safety, concurrency, hostile input, security (issue 5)."""

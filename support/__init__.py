"""What the tests and the benchmarks share (benchmarks never import tests; import-linter keeps
it so): :mod:`support.audio` synthesises reproducible audio and encodes it in every format
the decoder reads; :mod:`support.server` runs a real ``musicprism serve`` in a subprocess.
Not part of the installed package."""

#!/usr/bin/env bash
# Regenerates the three locks from pyproject.toml (run through `make lock`; arguments are
# passed to every `uv pip compile`, e.g. `--upgrade-package fastapi` or `--upgrade`).
#
#   bench.lock  everything: serving + [train] + [dev] + [bench]   the one resolution
#   dev.lock    serving + [train] + [dev] + [ray]  (make install/test/serve)   } subsets of bench.lock,
#   serve.lock  serving only                  (the image, the wheel test)  } same versions/hashes
#
# Target: CPython 3.11 on Linux x86_64 (CI, the Docker image). torch is the CPU build, found
# in /opt/wheels where this machine keeps it, else on the PyTorch CPU index.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv-lock/bin/uv}
if compgen -G "/opt/wheels/torch-*+cpu-*.whl" >/dev/null; then
  torch_source=(--find-links /opt/wheels)
else
  torch_source=(--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
fi
common=(--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
        --custom-compile-command "make lock" --quiet "${torch_source[@]}" "$@")
"$UV" pip compile pyproject.toml requirements/build.in --all-extras "${common[@]}" \
  -o requirements/bench.lock
"$UV" pip compile pyproject.toml requirements/build.in --extra train --extra dev --extra ray \
  -c requirements/bench.lock "${common[@]}" -o requirements/dev.lock
"$UV" pip compile pyproject.toml requirements/build.in \
  -c requirements/bench.lock "${common[@]}" -o requirements/serve.lock
echo "locked: $(grep -c '^[a-z0-9]' requirements/serve.lock) serving, $(grep -c '^[a-z0-9]' requirements/dev.lock) dev, $(grep -c '^[a-z0-9]' requirements/bench.lock) bench packages"

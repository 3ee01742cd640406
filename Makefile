# musicprism: the two commands of the quick start are `make serve` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= data
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: install sysdeps serve test test-fast lint bench lock clean

# Every install comes from the committed locks in requirements/ (exact versions, sha256
# hashes; pip refuses anything else), then the project itself without its dependencies.
# torch is the CPU build: pip finds it in /opt/wheels where the machine keeps it (pip's
# find-links), else on the PyTorch CPU index.
TORCH_SOURCE ?= $(if $(wildcard /opt/wheels/torch-*+cpu-*.whl),,--find-links https://download.pytorch.org/whl/cpu/torch/)
PIP_LOCKED = $(PY) -m pip install --quiet --require-hashes $(TORCH_SOURCE)

# The distillation teacher's weights (the musicnn wheel, read as a zip, never installed) are
# fetched beside the environment, hash-checked, for the teacher tests and `dataset teacher`.
$(VENV)/.installed: requirements/dev.lock requirements/teacher.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_LOCKED) -r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	$(PY) -m pip download --quiet --no-deps --require-hashes -r requirements/teacher.lock -d $(VENV)/teacher
	touch $@

install: $(VENV)/.installed sysdeps

# FluidSynth and the FluidR3 GM soundfont render the benchmark corpus (model/data/); Debian's
# Chromium runs the page's browser tests (tests/web/; Playwright drives it, and never
# downloads a browser of its own).
sysdeps:
	@if ! command -v fluidsynth >/dev/null || [ ! -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; then \
		echo "installing fluidsynth and fluid-soundfont-gm"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fluidsynth fluid-soundfont-gm >/dev/null; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# Installs, makes sure a trained model and the demo catalogue are there, serves on SQLite.
serve: install
	$(VENV)/bin/musicprism demo --data-dir $(DATA_DIR)
	$(VENV)/bin/musicprism serve --data-dir $(DATA_DIR)

# The whole suite, slow end-to-end tests included, against SQLite and the real PostgreSQL.
TEST_ENV = MUSICPRISM_TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) MUSICPRISM_TEST_TEACHER_WHEEL_DIR=$(VENV)/teacher
test: install
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(TEST_ENV) $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check service model index layout support tests benchmarks
	$(VENV)/bin/mypy service index layout
	$(VENV)/bin/lint-imports

# Index at scale (100k and 1M tracks; about 45 minutes on 2 cores), the encoder, the HTTP API
# under load (10k tracks) and ingestion (real recordings: `musicprism dataset real`; SQLite
# and the PostgreSQL at TEST_POSTGRES_URL). Results: benchmarks/results/. BENCH_ARGS=--quick
# runs the last three small. hnswlib builds from source (needs a C++ compiler).
BENCH_ARGS ?=
bench: install
	$(PIP_LOCKED) -r requirements/bench.lock
	OMP_WAIT_POLICY=PASSIVE $(PY) -m benchmarks.index_scale
	$(PY) -m benchmarks.encoder $(BENCH_ARGS)
	$(PY) -m benchmarks.api_load $(BENCH_ARGS) --real $(DATA_DIR)/datasets/real
	$(PY) -m benchmarks.ingest $(BENCH_ARGS) --real $(DATA_DIR)/datasets/real --postgres $(TEST_POSTGRES_URL)

# Regenerates requirements/*.lock from pyproject.toml with uv (itself hash-pinned in
# requirements/tools.lock). Upgrade one dependency: edit its range in pyproject.toml if needed,
# then `make lock LOCK_ARGS="--upgrade-package NAME"`; everything: LOCK_ARGS=--upgrade.
LOCK_ARGS ?=
.venv-lock/bin/uv: requirements/tools.lock
	test -x .venv-lock/bin/python || $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --require-hashes -r requirements/tools.lock
	touch $@

lock: .venv-lock/bin/uv
	requirements/lock.sh $(LOCK_ARGS)

clean:
	rm -rf $(VENV) .venv-lock .pytest_cache

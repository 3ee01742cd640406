# syntax=docker/dockerfile:1
# musicprism: CPU-only image with the shipped model. Build: docker build -t musicprism .
# See docs/operations.md (docker compose: database, migrations, service, ingest).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- dependencies: the serving lock in /opt/venv, installed before any code is copied -------
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY requirements/serve.lock requirements/
# Exact versions, each checked against its sha256 (pip refuses anything else). torch is the
# CPU build, a file of the PyTorch CPU index; the check after it fails the build if a CUDA
# torch slipped in anyway.
RUN pip install --require-hashes --find-links https://download.pytorch.org/whl/cpu/torch/ \
        -r requirements/serve.lock \
    && pip check \
    && python -c "import sys, torch; sys.exit(f'CUDA torch {torch.__version__}' if torch.version.cuda else 0)"

# --- the project as a wheel (setuptools and wheel come from the lock too) -------------------
FROM deps AS wheel
COPY . /src
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /dist /src

# --- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    MUSICPRISM_DATA_DIR=/data \
    MUSICPRISM_HOST=0.0.0.0 \
    MUSICPRISM_PORT=8000
RUN groupadd --system --gid 10001 musicprism \
    && useradd --system --uid 10001 --gid musicprism --home-dir /home/musicprism \
        --create-home --shell /usr/sbin/nologin musicprism \
    && mkdir -p /data \
    && chown musicprism:musicprism /data
COPY --from=deps /opt/venv /opt/venv
# The wheel carries the code, the migrations and the trained model (package data), owned by
# root: read-only to the service. Nothing is resolved here (--no-deps; pip check verifies).
COPY --from=wheel /dist /tmp/dist
RUN pip install --no-deps /tmp/dist/musicprism-*.whl \
    && rm -rf /tmp/dist \
    && pip check \
    && python -c "from service.app import DEFAULT_MODEL; from model.checkpoint import load_checkpoint; print('model', load_checkpoint(DEFAULT_MODEL).version)"
WORKDIR /app
COPY docker/healthcheck.py docker/healthcheck.py

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["musicprism"]
CMD ["serve", "--host", "0.0.0.0"]

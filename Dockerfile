# syntax=docker/dockerfile:1
# musicprism: CPU-only image with the shipped model. Build: docker build -t musicprism .
# See docs/operations.md (docker compose: database, migrations, service, ingest).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- dependencies: a virtual environment in /opt/venv, built before any code is copied ------
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY pyproject.toml docker/requirements.py ./
# 1. torch and torchaudio from the PyTorch CPU index (the default Linux wheels on PyPI pull
#    several GB of CUDA libraries); the pins come from pyproject.toml.
RUN python requirements.py --only torch torchaudio > torch.txt \
    && pip install --index-url https://download.pytorch.org/whl/cpu -r torch.txt
# 2. everything else from PyPI. The list still names torch and torchaudio: pip finds the CPU
#    builds already satisfy the pins (local version "+cpu" is ignored when matching) and
#    leaves them; the check after it fails the build if a CUDA torch slipped in anyway.
RUN python requirements.py > requirements.txt \
    && pip install -r requirements.txt "setuptools>=69" wheel \
    && pip check \
    && python -c "import sys, torch; sys.exit(f'CUDA torch {torch.__version__}' if torch.version.cuda else 0)"

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
WORKDIR /app
# The code, migrations and the trained model (model/weights/), owned by root: read-only to
# the service. Installed in place (editable), so migrations/ and model/weights/ are found
# beside the packages, as in a checkout.
COPY . .
RUN pip install --no-deps --no-build-isolation -e . \
    && python -m compileall -q service model index migrations \
    && python -c "from service.app import DEFAULT_MODEL; from model.checkpoint import load_checkpoint; print('model', load_checkpoint(DEFAULT_MODEL).version)"

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["musicprism"]
CMD ["serve", "--host", "0.0.0.0"]

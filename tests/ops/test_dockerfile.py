"""The Dockerfile and .dockerignore, parsed and checked against the package without a Docker
engine: base image, dependencies from the serving lock (CPU torch), dependency layer before the
code, the project installed as its wheel, non-root user, data volume, health check, and an
entry point and commands that exist."""

from __future__ import annotations

import argparse
import shlex
import tomllib

import pytest

from service import cli
from service.cli import serving
from service.config_docs import EXTERNAL_ENV, env_names
from service.settings import Settings
from tests.ops.files import (
    DOCKERFILE,
    DOCKERIGNORE,
    ROOT,
    Stage,
    dockerignore_patterns,
    expand_args,
    is_ignored,
    load_compose,
    parse_dockerfile,
)

CPU_TORCH = "https://download.pytorch.org/whl/cpu/torch/"
MODEL = "model/weights/musicprism-default.pt"


@pytest.fixture(scope="module")
def parsed() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runtime(parsed: tuple[dict[str, str], list[Stage]]) -> Stage:
    return parsed[1][-1]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def core_parser(monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The CLI parser with the serving subcommands (the ones the image runs)."""
    monkeypatch.setattr(cli, "command_groups", lambda: [serving.register])
    return cli.build_parser()


def run_commands(stage: Stage) -> list[str]:
    return [i.args for i in stage.all("RUN")]


# --- stages and layers ---------------------------------------------------------------------------
def test_dependencies_wheel_and_runtime_stages_on_slim_python_311(
    parsed: tuple[dict[str, str], list[Stage]]
) -> None:
    args, stages = parsed
    assert [s.name for s in stages] == ["deps", "wheel", "runtime"]
    for stage in (stages[0], stages[2]):
        base = expand_args(stage.base, args)
        assert base.startswith("python:3.11-slim"), base
    assert stages[1].base == "deps"  # the wheel is built with the locked setuptools
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert ">=3.11" in requires


def test_dependencies_come_from_the_serving_lock_with_cpu_torch(
    parsed: tuple[dict[str, str], list[Stage]]
) -> None:
    runs = run_commands(parsed[1][0])
    (install,) = [r for r in runs if "pip install" in r]
    words = shlex.split(install)
    assert words[:2] == ["pip", "install"] and "--require-hashes" in words
    assert words[words.index("-r") + 1] == "requirements/serve.lock"
    assert words[words.index("--find-links") + 1] == CPU_TORCH
    assert "--index-url" not in words and "--extra-index-url" not in words
    assert "torch.version.cuda" in install and "pip check" in install


def test_dependencies_are_installed_before_the_code_is_copied(
    parsed: tuple[dict[str, str], list[Stage]], runtime: Stage
) -> None:
    deps, wheel = parsed[1][0], parsed[1][1]
    assert [i.args for i in deps.all("COPY")] == ["requirements/serve.lock requirements/"]
    assert [i.args for i in wheel.all("COPY")] == [". /src"]
    (build,) = run_commands(wheel)
    assert shlex.split(build)[:5] == ["pip", "wheel", "--no-deps", "--no-build-isolation",
                                      "--wheel-dir"]
    order = [(i.keyword, i.args) for i in runtime.instructions]
    venv = order.index(("COPY", "--from=deps /opt/venv /opt/venv"))
    dist = order.index(("COPY", "--from=wheel /dist /tmp/dist"))
    install = next(n for n, (k, a) in enumerate(order) if k == "RUN" and "pip install" in a)
    assert venv < dist < install
    words = shlex.split(order[install][1])
    assert words[:4] == ["pip", "install", "--no-deps", "/tmp/dist/musicprism-*.whl"]
    assert "pip check" in order[install][1]  # nothing is resolved once the code is in
    assert not [a for k, a in order if k == "COPY" and a.startswith(". ")]  # no source tree


def test_runs_as_a_non_root_user_that_owns_the_data_volume(runtime: Stage) -> None:
    user = runtime.last("USER")
    assert user is not None and user.args.split(":")[0] not in {"root", "0"}
    uid = user.args.split(":")[0]
    setup = " ".join(run_commands(runtime))
    assert f"--uid {uid}" in setup
    data_dir = runtime.env()["MUSICPRISM_DATA_DIR"]
    volume = runtime.last("VOLUME")
    assert volume is not None and volume.exec_form() == [data_dir]
    assert f"chown musicprism:musicprism {data_dir}" in setup
    names = [i.keyword for i in runtime.instructions]
    assert names.index("USER") > max(n for n, k in enumerate(names) if k == "RUN")


def test_every_env_variable_is_a_setting_or_known(runtime: Stage) -> None:
    ours = {k for k in runtime.env() if k.startswith("MUSICPRISM_") or k == "DATABASE_URL"}
    known = {e for n, f in Settings.model_fields.items() for e in env_names(n, f)}
    assert ours - known == set()
    assert set(runtime.env()) - ours <= {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
                                         "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK",
                                         "PIP_ROOT_USER_ACTION", *EXTERNAL_ENV}


# --- entry point and commands --------------------------------------------------------------------
def test_entrypoint_is_the_console_script(runtime: Stage, pyproject: dict) -> None:
    entry = runtime.last("ENTRYPOINT")
    assert entry is not None and entry.exec_form() == ["musicprism"]
    assert pyproject["project"]["scripts"]["musicprism"] == "service.cli:main"


def test_default_command_and_compose_commands_parse(
    runtime: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = core_parser(monkeypatch)
    cmd = runtime.last("CMD")
    assert cmd is not None
    args = parser.parse_args(cmd.exec_form())
    assert (args.command, args.host, args.func) == ("serve", "0.0.0.0", serving.cmd_serve)
    expected = {"migrate": serving.cmd_migrate, "app": serving.cmd_serve,
                "ingest": serving.cmd_ingest}
    for name, service in load_compose()["services"].items():
        if name in expected:
            parsed = parser.parse_args(service["command"])
            assert parsed.func is expected[name], name
    app = parser.parse_args(load_compose()["services"]["app"]["command"])
    assert app.no_migrate is True  # the migrate service has done it
    ingest = parser.parse_args(load_compose()["services"]["ingest"]["command"])
    assert str(ingest.folder) == "/import"


def test_health_check_uses_python_on_healthz(runtime: Stage) -> None:
    check = runtime.last("HEALTHCHECK")
    assert check is not None
    options, _, command = check.args.partition(" CMD ")
    assert command.strip() == '["python", "/app/docker/healthcheck.py"]'
    assert "--start-period=120s" in options.split()
    assert '"/healthz"' not in command  # the script builds the URL from MUSICPRISM_PORT
    assert "/healthz" in (ROOT / "docker" / "healthcheck.py").read_text()
    assert runtime.env()["MUSICPRISM_PORT"] == "8000"
    assert runtime.last("EXPOSE").args == "8000"


# --- the model and the build context -------------------------------------------------------------
def test_the_image_loads_the_shipped_model_from_the_wheel_at_build_time(runtime: Stage) -> None:
    from service.app import DEFAULT_MODEL

    assert DEFAULT_MODEL == ROOT / MODEL and DEFAULT_MODEL.stat().st_size > 0
    with open(ROOT / "pyproject.toml", "rb") as f:
        package_data = tomllib.load(f)["tool"]["setuptools"]["package-data"]
    assert "weights/*.pt" in package_data["model"]  # the wheel carries it
    checks = [r for r in run_commands(runtime) if "load_checkpoint(DEFAULT_MODEL)" in r]
    assert len(checks) == 1 and "from service.app import DEFAULT_MODEL" in checks[0]
    patterns = dockerignore_patterns(DOCKERIGNORE.read_text(encoding="utf-8"))
    assert not is_ignored(MODEL, patterns)


@pytest.mark.parametrize(
    "path",
    ["service/app.py", "model/encoder.py", "index/facet_set.py", "service/migrations/env.py",
     "service/migrations/alembic.ini", "pyproject.toml", "README.md", "docker/healthcheck.py",
     "requirements/serve.lock", "model/configs/default.yaml", MODEL],
)
def test_the_build_context_keeps(path: str) -> None:
    assert not is_ignored(path, dockerignore_patterns(DOCKERIGNORE.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "path",
    [".git/HEAD", "data/musicprism.db", "data/datasets/bench-ci/a.wav", ".venv/bin/python",
     ".env", "tests/ops/test_compose.py", "service/__pycache__/app.cpython-311.pyc",
     "model/__pycache__/x.pyc", "docker-compose.yml"],
)
def test_the_build_context_leaves_out(path: str) -> None:
    assert is_ignored(path, dockerignore_patterns(DOCKERIGNORE.read_text(encoding="utf-8")))

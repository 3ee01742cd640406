"""The Dockerfile and .dockerignore, parsed and checked against the package without a Docker
engine: base image, CPU torch from the pyproject pins, dependency layer before the code,
non-root user, data volume, health check, and an entry point and commands that exist."""

from __future__ import annotations

import argparse
import ast
import shlex
import subprocess
import sys
import tomllib

import pytest

from service import cli
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

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
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
    """The CLI parser with its built-in subcommands (the plugin ones are not used here)."""
    monkeypatch.setattr(cli, "_plugins", lambda: [])
    return cli.build_parser()


def run_commands(stage: Stage) -> list[str]:
    return [i.args for i in stage.all("RUN")]


# --- stages and layers ---------------------------------------------------------------------------
def test_two_stages_on_slim_python_311(parsed: tuple[dict[str, str], list[Stage]]) -> None:
    args, stages = parsed
    assert [s.name for s in stages] == ["deps", "runtime"]
    for stage in stages:
        base = expand_args(stage.base, args)
        assert base.startswith("python:3.11-slim"), base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert ">=3.11" in requires


def test_torch_comes_from_the_cpu_index_with_the_pyproject_pins(
    parsed: tuple[dict[str, str], list[Stage]], pyproject: dict
) -> None:
    deps = parsed[1][0]
    runs = run_commands(deps)
    torch_runs = [r for r in runs if CPU_INDEX in r]
    assert len(torch_runs) == 1
    words = shlex.split(torch_runs[0])
    assert words[words.index("--index-url") + 1] == CPU_INDEX
    assert words[words.index("-r") + 1] == "torch.txt"
    assert words[: words.index("&&")] == ["python", "requirements.py", "--only", "torch",
                                          "torchaudio", ">", "torch.txt"]
    pins = subprocess.run(
        [sys.executable, str(ROOT / "docker" / "requirements.py"), "--pyproject",
         str(ROOT / "pyproject.toml"), "--only", "torch", "torchaudio"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert pins == ["torch==2.11.*", "torchaudio==2.11.*"]
    assert set(pins) <= set(pyproject["project"]["dependencies"])
    # the rest comes after, from PyPI, with a guard against a CUDA build
    rest = runs[runs.index(torch_runs[0]) + 1]
    assert "pip install -r requirements.txt" in rest and "--index-url" not in rest
    assert "torch.version.cuda" in rest and "pip check" in rest


def test_dependencies_are_installed_before_the_code_is_copied(
    parsed: tuple[dict[str, str], list[Stage]], runtime: Stage
) -> None:
    deps = parsed[1][0]
    copies = [i.args for i in deps.all("COPY")]
    assert copies == ["pyproject.toml docker/requirements.py ./"]  # no code in that stage
    order = [(i.keyword, i.args) for i in runtime.instructions]
    venv = order.index(("COPY", "--from=deps /opt/venv /opt/venv"))
    code = order.index(("COPY", ". ."))
    install = next(n for n, (k, a) in enumerate(order) if k == "RUN" and "pip install" in a)
    assert venv < code < install
    assert "--no-deps" in order[install][1]  # nothing is resolved once the code is in


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
    assert (args.command, args.host, args.func) == ("serve", "0.0.0.0", cli.cmd_serve)
    expected = {"migrate": cli.cmd_migrate, "app": cli.cmd_serve, "ingest": cli.cmd_ingest}
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
def default_model_path() -> str:
    """service/app.py's DEFAULT_MODEL relative to the repository, read from its source."""
    tree = ast.parse((ROOT / "service" / "app.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets
                                             if isinstance(t, ast.Name)] == ["DEFAULT_MODEL"]:
            parts = sorted((c.col_offset, c.value) for c in ast.walk(node.value)
                           if isinstance(c, ast.Constant) and isinstance(c.value, str))
            return "/".join(value for _, value in parts)
    raise AssertionError("DEFAULT_MODEL not found in service/app.py")


def test_the_image_loads_the_shipped_model_at_build_time(runtime: Stage) -> None:
    assert default_model_path() == MODEL
    checks = [r for r in run_commands(runtime) if "load_checkpoint(DEFAULT_MODEL)" in r]
    assert len(checks) == 1 and "from service.app import DEFAULT_MODEL" in checks[0]
    patterns = dockerignore_patterns(DOCKERIGNORE.read_text(encoding="utf-8"))
    assert not is_ignored(MODEL, patterns)


@pytest.mark.skipif(not (ROOT / MODEL).exists(), reason=f"{MODEL} is not committed yet")
def test_the_shipped_model_is_in_the_repository() -> None:
    assert (ROOT / MODEL).stat().st_size > 0


@pytest.mark.parametrize(
    "path",
    ["service/app.py", "model/encoder.py", "index/facet_set.py", "migrations/env.py",
     "alembic.ini", "pyproject.toml", "README.md", "docker/healthcheck.py",
     "docker/requirements.py", MODEL],
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

"""docker-compose.yml, checked without a Docker engine: the compose-spec JSON schema, the start
order (depends_on conditions and health checks), interpolation, and that every variable the
containers get is one the service reads."""

from __future__ import annotations

import hashlib
import json
import os
import re

import jsonschema
import pytest

from service.config_docs import EXTERNAL_ENV, env_names
from service.settings import Settings
from tests.ops.files import (
    ROOT,
    SCHEMA,
    SCHEMA_SHA256,
    MissingVariable,
    interpolate,
    interpolate_tree,
    load_compose,
    variables,
)

SECRETS = {"MUSICPRISM_API_KEY": "k" * 32, "POSTGRES_PASSWORD": "0123456789abcdef"}
OUR_SERVICES = ("migrate", "app", "worker", "ingest")  # the ones running the musicprism image
DURATION = re.compile(r"(\d+(\.\d+)?(us|ms|s|m|h))+")


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def resolved(compose: dict) -> dict:
    return interpolate_tree(compose, dict(SECRETS))


def settings_env_names() -> set[str]:
    return {e for n, f in Settings.model_fields.items() for e in env_names(n, f)}


def test_the_vendored_schema_is_unchanged() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA.read_text())["$schema"].startswith("http://json-schema.org/draft/2019-09")


def schema_validator() -> jsonschema.Draft201909Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


# --- the schema ----------------------------------------------------------------------------------
def test_compose_file_is_valid_against_the_compose_spec_schema(
    compose: dict, resolved: dict
) -> None:
    validator = schema_validator()
    assert [e.message for e in validator.iter_errors(compose)] == []
    assert [e.message for e in validator.iter_errors(resolved)] == []


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (("services", "app", "helthcheck"), {}, "'helthcheck' does not match"),
        (("services", "app", "depends_on", "migrate", "condition"), "service_done",
         "is not valid under any of the given schemas"),
        (("services", "db", "ports"), "5432:5432", "is not of type 'array'"),
    ],
)
def test_schema_rejects_a_broken_file(compose: dict, path: tuple, value: object,
                                      expected: str) -> None:
    broken = json.loads(json.dumps(compose))
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    messages = [e.message for e in schema_validator().iter_errors(broken)]
    assert any(expected in m for m in messages), messages


# --- start order and health ----------------------------------------------------------------------
def test_start_order_waits_for_health_and_migrations(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"db", "migrate", "app", "worker", "ingest"}
    conditions = {
        name: {dep: spec["condition"] for dep, spec in svc.get("depends_on", {}).items()}
        for name, svc in services.items()
    }
    assert conditions == {
        "db": {},
        "migrate": {"db": "service_healthy"},
        "app": {"migrate": "service_completed_successfully"},
        "worker": {"migrate": "service_completed_successfully"},
        "ingest": {"migrate": "service_completed_successfully"},
    }
    for name, deps in conditions.items():  # a service waited on for health must have a check
        for dep, condition in deps.items():
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}'s health"
    assert services["migrate"]["restart"] == "no" and services["ingest"]["restart"] == "no"


def test_health_checks(compose: dict) -> None:
    db, app = compose["services"]["db"]["healthcheck"], compose["services"]["app"]["healthcheck"]
    assert db["test"][0] == "CMD-SHELL" and db["test"][1].startswith("pg_isready ")
    # $$ reaches the container as $, so the check reads the container's own variables
    assert interpolate(db["test"][1], {}) == 'pg_isready -U "${POSTGRES_USER}" -d "${POSTGRES_DB}"'
    assert app["test"] == ["CMD", "python", "/app/docker/healthcheck.py"]
    assert (ROOT / "docker" / "healthcheck.py").is_file()
    for check in (db, app):
        for key in ("interval", "timeout", "start_period"):
            assert DURATION.fullmatch(check[key]), (key, check[key])
        assert check["retries"] >= 3
    assert app["start_period"] == "120s"  # the model and indexes load before /healthz answers


def test_volumes_and_ports(compose: dict, resolved: dict) -> None:
    services = compose["services"]
    assert set(compose["volumes"]) == {"db-data", "data"}
    assert services["db"]["volumes"] == ["db-data:/var/lib/postgresql/data"]
    for name in OUR_SERVICES[1:]:
        assert "data:/data" in services[name]["volumes"]
    mount = services["ingest"]["volumes"][1]
    assert mount["target"] == "/import" and mount["read_only"] is True
    assert mount["bind"]["create_host_path"] is False  # a mistyped folder fails, not ingests 0
    assert resolved["services"]["app"]["ports"] == ["127.0.0.1:8000:8000"]
    assert services["ingest"]["profiles"] == ["ingest"]
    assert "/tmp/prometheus" in services["app"]["tmpfs"]


# --- interpolation -------------------------------------------------------------------------------
def compose_text() -> str:
    """The file's values (comments left out, as compose leaves them out)."""
    return json.dumps(load_compose())


def test_secrets_are_required_and_nothing_else() -> None:
    text = compose_text()
    required = {name for name, op in variables(text).items() if op in (":?", "?")}
    assert required == set(SECRETS)
    for missing in SECRETS:
        env = {k: v for k, v in SECRETS.items() if k != missing}
        with pytest.raises(MissingVariable) as info:
            interpolate_tree(load_compose(), env)
        assert info.value.name == missing


def test_profile_services_need_no_variable_a_plain_up_lacks(compose: dict) -> None:
    """Compose interpolates every service before it applies profiles, so a required variable
    used only by a profile service would stop `docker compose up`."""
    default_text = json.dumps({k: v for k, v in compose["services"].items() if "profiles" not in v})
    default_required = {n for n, op in variables(default_text).items() if op in (":?", "?")}
    for name, service in compose["services"].items():
        if "profiles" in service:
            required = {n for n, op in variables(json.dumps(service)).items() if op in (":?", "?")}
            assert required <= default_required, (name, required - default_required)


def test_database_url_is_built_from_the_postgres_variables(resolved: dict) -> None:
    env = resolved["services"]["app"]["environment"]
    db = resolved["services"]["db"]["environment"]
    assert env["DATABASE_URL"] == (
        f"postgresql+psycopg://{db['POSTGRES_USER']}:{SECRETS['POSTGRES_PASSWORD']}"
        f"@db:5432/{db['POSTGRES_DB']}"
    )
    custom = interpolate_tree(load_compose(), {**SECRETS, "POSTGRES_USER": "u", "POSTGRES_DB": "d"})
    assert custom["services"]["migrate"]["environment"]["DATABASE_URL"].endswith("u:" +
        SECRETS["POSTGRES_PASSWORD"] + "@db:5432/d")


# --- the variables the service reads -------------------------------------------------------------
@pytest.mark.parametrize("service", OUR_SERVICES)
def test_every_variable_is_a_setting(compose: dict, service: str) -> None:
    known = settings_env_names() | set(EXTERNAL_ENV)
    unknown = set(compose["services"][service]["environment"]) - known
    assert unknown == set(), f"{service} sets variables no setting reads: {sorted(unknown)}"


@pytest.mark.parametrize("service", OUR_SERVICES)
def test_the_environment_makes_valid_production_settings(
    resolved: dict, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("MUSICPRISM_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    env = resolved["services"][service]["environment"]
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    settings = Settings()
    assert settings.environment == "production"
    assert settings.api_key == SECRETS["MUSICPRISM_API_KEY"]
    assert str(settings.data_dir) == "/data"
    assert settings.resolved_database_url.startswith("postgresql+psycopg://")
    if service == "app":  # the defaults fit a 2-core machine: workers x threads <= cores
        assert settings.workers * max(settings.torch_threads, settings.faiss_threads) <= 2
        # ... and its workers share memory-mapped index snapshots, by default.
        assert settings.workers > 1 and settings.index_mmap is None and settings.use_index_mmap
        assert settings.index_delta_max == Settings.model_fields["index_delta_max"].default


def test_a_short_api_key_fails_settings_as_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = interpolate_tree(load_compose(), {**SECRETS, "MUSICPRISM_API_KEY": "short"})
    for key, value in env["services"]["app"]["environment"].items():
        monkeypatch.setenv(key, str(value))
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings()


def test_every_compose_variable_is_documented() -> None:
    text = compose_text()
    ops = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    undocumented = sorted(name for name in variables(text) if f"`{name}`" not in ops)
    assert undocumented == []

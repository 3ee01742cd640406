"""docs/configuration.md, generated from ``Settings`` so it never drifts.

``python -m service.config_docs`` prints the page; ``--write`` updates docs/configuration.md;
``--check`` exits 1 when the committed page differs (the test in tests/ops does the same).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from service.settings import Settings

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"

# Read from the environment by something other than Settings; the container files may set them.
EXTERNAL_ENV: dict[str, str] = {
    "PROMETHEUS_MULTIPROC_DIR": (
        "Folder for prometheus-client's multiprocess mode (needed with more than one worker "
        "for /metrics to add up every worker). Read by prometheus-client when it is imported, "
        "so it must be in the environment from the start; `musicprism serve` empties it "
        "before the workers start. Unset: single-process metrics."
    ),
}

_CONSTRAINTS = (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))


@dataclass(frozen=True)
class SettingDoc:
    name: str
    env: tuple[str, ...]
    type: str
    default: str
    description: str


def env_names(
    name: str, field: FieldInfo, settings_cls: type[BaseSettings] = Settings
) -> tuple[str, ...]:
    """The environment variables that set field ``name`` (upper case, first one preferred)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        choices = [c for c in alias.choices if isinstance(c, str)]
    elif isinstance(alias, str):
        choices = [alias]
    else:
        prefix = str(settings_cls.model_config.get("env_prefix", ""))
        choices = [prefix + name]
    return tuple(dict.fromkeys(c.upper() for c in choices))


def _type_name(field: FieldInfo) -> str:
    text = getattr(field.annotation, "__name__", None) or str(field.annotation)
    return text.replace("pathlib.", "").replace("NoneType", "None").replace("typing.", "")


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1 << 20:
        return f"`{value}` ({value / (1 << 20):g} MiB)"
    return f"`{value}`"


def _constraints(field: FieldInfo) -> str:
    parts = []
    for meta in field.metadata:
        for attr, sign in _CONSTRAINTS:
            bound = getattr(meta, attr, None)
            if bound is not None:
                parts.append(f"{sign} {bound}")
    return f" ({', '.join(parts)})" if parts else ""


def settings_docs(settings_cls: type[BaseSettings] = Settings) -> list[SettingDoc]:
    """One entry per settings field, in declaration order."""
    out = []
    for name, field in settings_cls.model_fields.items():
        if not field.description:
            raise ValueError(f"setting '{name}' has no description")
        out.append(SettingDoc(
            name=name,
            env=env_names(name, field, settings_cls),
            type=_type_name(field) + _constraints(field),
            default=_default(field),
            description=field.description,
        ))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(settings_cls: type[BaseSettings] = Settings) -> str:
    """The whole page, as Markdown."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated from service/settings.py by `python -m service.config_docs --write`;",
        "     do not edit by hand (tests/ops checks that this file matches). -->",
        "",
        "Every setting is read once, from the environment, when a command starts (the command",
        "line's flags override some of them). Variables use the prefix `MUSICPRISM_`, except",
        "`DATABASE_URL`. A `MUSICPRISM_` variable that names no setting (a misspelling) stops",
        "the command with an error that lists the valid names.",
        "",
        "| setting | environment variable | type | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for doc in settings_docs(settings_cls):
        env = ", ".join(f"`{e}`" for e in doc.env)
        lines.append(f"| {doc.name} | {env} | {_cell(doc.type)} | {_cell(doc.default)} | "
                     f"{_cell(doc.description)} |")
    lines += ["", "## Other environment variables", "",
              "| environment variable | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(text)} |" for name, text in EXTERNAL_ENV.items()]
    lines += ["", "The variables that `docker-compose.yml` reads (secrets, ports, the ingest",
              "folder) are described in [operations.md](operations.md).", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"write {DOC_PATH.name}")
    group.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        DOC_PATH.write_text(text, encoding="utf-8")
    elif args.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            sys.stderr.write(f"{DOC_PATH} is stale: run python -m service.config_docs --write\n")
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

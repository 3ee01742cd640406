"""docs/configuration.md is generated from Settings, the committed page is up to date, and
README.md's Configuration table holds the same rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from service import config_docs
from service.config_docs import DOC_PATH, render, settings_docs
from service.settings import Settings


def test_committed_page_matches_the_generator() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run python -m service.config_docs --write")


def test_every_setting_is_on_the_page_with_its_variable() -> None:
    page = DOC_PATH.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"| {name} | `MUSICPRISM_{name.upper()}`" in page or name == "database_url"
    assert "| database_url | `DATABASE_URL`, `MUSICPRISM_DATABASE_URL` |" in page


def test_readme_table_has_every_setting_row() -> None:
    """README documents the one settings class: each generated row, word for word."""
    readme = (DOC_PATH.parents[1] / "README.md").read_text(encoding="utf-8")
    rows = [line for line in render().splitlines()
            if line.startswith("| ") and line.split("|")[1].strip() in Settings.model_fields]
    assert len(rows) == len(Settings.model_fields)
    missing = [row for row in rows if row not in readme.splitlines()]
    assert not missing, f"README.md's Configuration table lacks: {missing}"


class Example(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EX_")

    size: int = Field(3 << 20, gt=0, le=1 << 30, description="Bytes | at most 1 GiB.")
    url: str | None = Field(None, validation_alias=AliasChoices("URL", "ex_url"),
                            description="Where.")
    root: Path = Field(Path("data"), description="A folder.")


def test_rows_of_an_example_settings_class() -> None:
    rows = {d.name: d for d in settings_docs(Example)}
    assert rows["size"].env == ("EX_SIZE",)
    assert rows["size"].type == "int (> 0, ≤ 1073741824)"
    assert rows["size"].default == "`3145728` (3 MiB)"
    assert rows["url"].env == ("URL", "EX_URL") and rows["url"].default == "unset"
    assert rows["url"].type == "str | None"
    assert (rows["root"].type, rows["root"].default) == ("Path", "`data`")
    assert "| size | `EX_SIZE` | int (> 0, ≤ 1073741824) | `3145728` (3 MiB) | Bytes \\| at most" \
        in render(Example)


def test_a_setting_without_a_description_is_refused() -> None:
    class Bare(BaseSettings):
        thing: int = 1

    with pytest.raises(ValueError, match="setting 'thing' has no description"):
        settings_docs(Bare)


def test_check_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "configuration.md"
    monkeypatch.setattr(config_docs, "DOC_PATH", page)
    assert config_docs.main(["--check"]) == 1
    assert config_docs.main(["--write"]) == 0 and page.read_text() == render()
    assert config_docs.main(["--check"]) == 0

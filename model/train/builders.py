"""The one place where YAML and plain dicts become typed configs and configs become objects
(audiocraft ``builders.py`` style): :func:`load_config` / :func:`config_from_dict` /
:func:`config_to_dict` / :func:`dump_config`, and :func:`build_schema`,
:func:`build_encoder`, :func:`resolve_device`.

Mapping rules: every key must name a field of the dataclass at that level (an unknown key
raises :class:`ConfigError` with its dotted path and the valid keys); lists become tuples
where the field is a tuple; ``null`` is accepted where the field is optional; values are
validated by the dataclasses themselves.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

from layout.schema import ConceptSchema
from model.config import ConfigError, EncoderConfig
from model.encoder import Encoder
from model.train.config import TrainConfig


# --- dict <-> dataclass ---------------------------------------------------------------------
def _from_value(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _from_value(inner[0], value, key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _dataclass_from_dict(tp, value, key)  # type: ignore[arg-type]
    if value is None:
        raise ConfigError(f"{key}: null is not allowed here")
    if origin is tuple:
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(_from_value(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}={value!r}: valid: {', '.join(map(str, args))}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}={value!r}: expected true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}={value!r}: expected an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}={value!r}: expected a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}={value!r}: expected a string")
        return value
    raise ConfigError(f"{key}: unsupported field type {tp!r}")


def _dataclass_from_dict(cls: type, d: Mapping[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(d) - set(names))
    if unknown:
        where = f" in '{prefix}'" if prefix else ""
        raise ConfigError(
            f"unknown key(s){where}: {', '.join(unknown)}; valid: {', '.join(names)}"
        )
    kwargs = {
        name: _from_value(hints[name], d[name], f"{prefix}.{name}" if prefix else name)
        for name in names
        if name in d
    }
    return cls(**kwargs)


def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    return value


def config_from_dict(d: Mapping[str, Any]) -> TrainConfig:
    """A plain (YAML-loaded) dict -> :class:`TrainConfig`; missing keys take the defaults.

    Raises:
        ConfigError: unknown key (dotted path named), wrong type or invalid value.
    """
    if not isinstance(d, Mapping):
        raise ConfigError(f"a training config must be a mapping, got {type(d).__name__}")
    cfg = _dataclass_from_dict(TrainConfig, d)
    EncoderConfig.from_dict(cfg.encoder.to_dict())  # the encoder's own checks, once more
    return cfg  # type: ignore[no-any-return]


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """:class:`TrainConfig` -> plain dict (lists, not tuples), the inverse of
    :func:`config_from_dict`."""
    return _to_plain(cfg)  # type: ignore[no-any-return]


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else in ``overlay`` replaces."""
    out = dict(base)
    for k, v in overlay.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_override(item: str) -> dict[str, Any]:
    """``"loss.ssl.method=ntxent"`` -> ``{"loss": {"ssl": {"method": "ntxent"}}}``; the value
    is read as YAML (numbers, booleans, null, lists).

    Raises:
        ConfigError: no ``=`` or an empty key.
    """
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override '{item}' must look like key.sub=value")
    value: Any = yaml.safe_load(raw) if raw.strip() else ""
    for part in reversed(key.strip().split(".")):
        value = {part: value}
    return value  # type: ignore[no-any-return]


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from a file (an empty file is ``{}``).

    Raises:
        ConfigError: unreadable, not YAML, or not a mapping.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read config '{path}': {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config '{path}' must be a mapping, got {type(data).__name__}")
    return data


def load_config(
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    base: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Read a YAML config, apply ``base`` underneath and ``key=value`` overrides on top."""
    d: dict[str, Any] = dict(base or {})
    if path is not None:
        d = merge(d, read_yaml(path))
    for item in overrides:
        d = merge(d, parse_override(item))
    return config_from_dict(d)


def dump_config(cfg: TrainConfig) -> str:
    """YAML text of ``cfg`` (every field, key order as declared)."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


# --- objects --------------------------------------------------------------------------------
def build_schema(cfg: TrainConfig, concepts: Mapping[str, Sequence[str]]) -> ConceptSchema:
    """The model's concept schema: the dataset's concepts and the config's facet layout."""
    return ConceptSchema(
        {c: tuple(t) for c, t in concepts.items()},
        facet_dim=cfg.facet_dim(len(concepts)),
        disentangled=cfg.disentangled,
    )


def build_encoder(cfg: TrainConfig, schema: ConceptSchema) -> Encoder:
    """A freshly initialised encoder (seeded by ``cfg.seed``)."""
    torch.manual_seed(cfg.seed)
    return Encoder(cfg.encoder, schema)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r}: CUDA is not available on this machine")
    return torch.device(name)


#: The training configs that ship with the package (model/configs/).
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _resolve(name: str, folder: Path, what: str) -> Path:
    """A YAML file path, or the name of one shipped in ``folder``."""
    p = Path(name)
    if p.is_file():
        return p
    candidate = folder / f"{name}.yaml"
    if candidate.is_file():
        return candidate
    valid = sorted(f.stem for f in folder.glob("*.yaml"))
    raise FileNotFoundError(f"no {what} '{name}'; valid: {', '.join(valid)} or a YAML file")


def resolve_config(name: str) -> Path:
    """A training config path, or the name of one in ``model/configs/`` (e.g. ``default``)."""
    return _resolve(name, CONFIGS, "training config")


def resolve_budget(name: str) -> Path:
    """A budget file path, or the name of one in ``model/configs/budgets/``."""
    return _resolve(name, CONFIGS / "budgets", "budget")

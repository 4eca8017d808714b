"""Configuration: ``pipecast.toml``, ``[tool.pipecast]`` in ``pyproject.toml``, or ``--config``.

Where it is looked for, first found wins: ``--config FILE``; ``pipecast.toml`` next to the
pipeline file; ``pipecast.toml`` in the working directory; ``[tool.pipecast]`` of a
``pyproject.toml`` next to the pipeline file, then in the working directory. Command-line flags
override single keys. The file is checked against ``schemas/config.schema.json``; a key a target
needs but nobody set is an error naming the key and the file to put it in.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipecast.errors import ConfigError, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["Config", "find_config_file", "load_config"]


@dataclass(frozen=True)
class Config:
    """Settings as plain nested data, plus where they came from (for error messages)."""

    data: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """A dotted key (``"sagemaker.role_arn"``), or ``default`` when unset."""
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def require(self, key: str) -> Any:
        """A dotted key that must be set; otherwise a ConfigError saying where to set it."""
        value = self.get(key)
        if value is None or value == "":
            raise ConfigError(_missing_message(key, self.source))
        return value

    def require_all(self, keys: tuple[str, ...], purpose: str) -> None:
        missing = [k for k in keys if self.get(k) in (None, "")]
        if missing:
            lines = [f"{purpose} needs {', '.join(repr(k) for k in missing)} in the configuration"]
            lines.append(_missing_message(missing[0], self.source))
            raise ConfigError("\n".join(lines))

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """A copy with dotted keys set (command-line flags win over the file)."""
        data = _deep_copy(self.data)
        for key, value in overrides.items():
            if value is None:
                continue
            node = data
            *parents, last = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        _validate(data, self.source or "command-line flags")
        return Config(data, self.source)

    @property
    def artifact_root(self) -> str:
        return str(self.require("artifact_root")).rstrip("/")


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def _missing_message(key: str, source: str | None) -> str:
    section, _, leaf = key.rpartition(".")
    where = source or "pipecast.toml (next to the pipeline file or in the working directory)"
    snippet = f'[{section}]\n  {leaf} = "..."' if section else f'{leaf} = "..."'
    return f"missing configuration key '{key}': set it in {where}:\n  {snippet}"


def find_config_file(
    pipeline_file: str | Path | None = None, cwd: str | Path | None = None
) -> tuple[Path, bool] | None:
    """The config file to use and whether it is a pyproject (``[tool.pipecast]``), or None."""
    here = Path(cwd or Path.cwd())
    dirs = [Path(pipeline_file).resolve().parent] if pipeline_file else []
    dirs.append(here.resolve())
    for d in dirs:
        if (d / "pipecast.toml").is_file():
            return d / "pipecast.toml", False
    for d in dirs:
        pyproject = d / "pyproject.toml"
        if pyproject.is_file() and "pipecast" in _read_toml(pyproject).get("tool", {}):
            return pyproject, True
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "TOML files are UTF-8: re-save it as UTF-8"
        ) from None


def load_config(
    config: str | Path | Mapping[str, Any] | Config | None = None,
    *,
    pipeline_file: str | Path | None = None,
    cwd: str | Path | None = None,
) -> Config:
    """Load settings from a path, a mapping, or (None) the files searched as described above."""
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        data = _deep_copy(config)
        _validate(data, "the configuration mapping")
        return Config(data, None)
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        is_pyproject = path.name == "pyproject.toml"
    else:
        found = find_config_file(pipeline_file, cwd)
        if found is None:
            return Config({}, None)
        path, is_pyproject = found
    data = _read_toml(path)
    if is_pyproject:
        data = data.get("tool", {}).get("pipecast", {})
    source = f"{path} [tool.pipecast]" if is_pyproject else str(path)
    _validate(data, source)
    return Config(data, source)


def _validate(data: Mapping[str, Any], source: str) -> None:
    import jsonschema

    from pipecast.schemas import load_schema

    schema = load_schema("config")
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    lines = []
    for err in errors:
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        message = err.message
        if err.validator == "additionalProperties":
            known = list(err.schema.get("properties", {}))
            extra = sorted(set(err.instance) - set(known)) if isinstance(err.instance, dict) else []
            message = "; ".join(f"unknown key '{k}'{did_you_mean(k, known)}" for k in extra)
        lines.append(f"{source}: {where}: {message}")
    raise ConfigError("\n".join(lines))

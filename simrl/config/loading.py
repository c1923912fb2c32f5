"""Reading a config: TOML files, ``section.key=value`` overrides, and plain dicts."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from simrl.config.fields import ConfigError, show
from simrl.config.run import Config, from_dict, merge, nest


def parse_override(item: str) -> tuple[str, Any]:
    """Parse one ``section.key=value`` override; the value is read as TOML, else a string."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    key, raw = (s.strip() for s in item.split("=", 1))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except ValueError:  # TOMLDecodeError, or a number too long to convert
        value = raw  # bare words such as rloo or bon
    return key, value


def read_toml(path: str | Path, what: str = "") -> dict[str, Any]:
    """The parsed TOML file at ``path``; any failure is one ConfigError naming ``what`` and
    the path (missing, a directory, unreadable, not UTF-8, not TOML)."""
    where = f"{what}{path}"
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    except (ValueError, RecursionError) as exc:  # e.g. a number too long to convert
        raise ConfigError(f"{where}: not valid TOML ({show(str(exc), 80)})") from None


def as_config(config: Any, where: str = "config") -> Config:
    """A :class:`Config` from a Config, a nested dict of sections, or None (the defaults).

    Raises:
        ConfigError: anything else, or a dict that does not validate.
    """
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return from_dict(config)
    raise ConfigError(
        f"{where} = {show(config)}: must be a simrl.config.Config or a dict of sections"
    )


def load(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a config from an optional TOML file plus ``section.key=value`` overrides."""
    data = read_toml(path, "--config ") if path is not None else {}
    for o in overrides:  # in order: a later section table merges into earlier changes
        key, value = parse_override(o)
        data = merge(data, nest({key: value}))
    return from_dict(data)

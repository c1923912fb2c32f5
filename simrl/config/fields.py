"""Config fields: their declaration, their allowed values, and the check of every value.

Every field carries its documentation and its allowed values in ``dataclasses.field``
metadata (``help``, and ``range`` or ``choices``), declared by :func:`option`. The section
dataclasses derive from :class:`Checked`, whose ``__post_init__`` coerces and checks every
field once, so a config cannot be built with a bad value, directly or from TOML.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from typing import Any, ClassVar

INF = math.inf


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


def option(
    default: Any,
    help: str,
    range: tuple[float, float] | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """Declare a config field with its documentation and allowed values.

    Args:
        default: Default value (immutable).
        help: One-sentence meaning, shown in the configuration reference.
        range: Inclusive ``(low, high)`` bounds for numbers (and for each element of a tuple).
        choices: Allowed values for strings.
    """
    return dataclasses.field(
        default=default, metadata={"help": help, "range": range, "choices": choices}
    )


class Checked:
    """Base of the config dataclasses: building one, directly or by
    :func:`simrl.config.from_dict`, coerces and checks every field once (``__post_init__``).

    ``section`` is the name of the section in a :class:`simrl.config.Config` (``"world"``,
    ...), which prefixes the field names in error messages; empty for the top level.
    """

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_fields(self)


def to_plain(obj: Any) -> Any:
    """``obj`` with tuples as lists, recursively (for JSON and TOML)."""
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return [to_plain(v) for v in obj]
    return obj


def describe(cls: type, f: dataclasses.Field) -> str:
    """Human-readable allowed values of a field, used in errors and in the reference."""
    md, typ = f.metadata, _type_of(cls, f)
    if md.get("choices"):
        return "one of " + ", ".join(repr(c) for c in md["choices"])
    if typ is bool:
        return "true or false"
    lo, hi = md.get("range") or (-INF, INF)
    kind = {int: "an integer", float: "a number"}.get(typ, "a list of numbers")
    hi_s = "inf" if hi == INF else (f"{hi:g}" if hi < 1e15 else "2^63-1")
    return f"{kind} in [{lo:g}, {hi_s}]"


def show(value: Any, limit: int = 40) -> str:
    """``repr`` of a value for a one-line message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_fields(obj: Any) -> None:
    """Check every field of a config dataclass, storing the coerced value (ints as floats
    in float fields, lists as tuples, ``-0.0`` as ``0.0``). Fields that are sections (their
    type derives from :class:`Checked`) are checked when they are built, so only their type
    is checked here."""
    cls = type(obj)
    prefix = f"{cls.section}." if cls.section else ""
    for f in dataclasses.fields(cls):
        value = getattr(obj, f.name)
        typ = _type_of(cls, f)
        if isinstance(typ, type) and issubclass(typ, Checked):
            if not isinstance(value, typ):
                raise ConfigError(f"{f.name} = {show(value)}: must be a {typ.__name__}")
            continue
        checked = _check_value(prefix + f.name, cls, f, value)
        if checked is not value:
            object.__setattr__(obj, f.name, checked)  # frozen: set once, while building


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a config class (strings under __future__), computed once."""
    return typing.get_type_hints(cls)


def _type_of(cls: type, f: dataclasses.Field) -> Any:
    """The resolved annotation of a field."""
    return _hints(cls)[f.name]


def _bad(path: str, cls: type, f: dataclasses.Field, value: Any, what: str = "") -> ConfigError:
    return ConfigError(f"{path} = {show(value)}: must be {what}{describe(cls, f)}")


def _check_value(path: str, cls: type, f: dataclasses.Field, value: Any) -> Any:
    """Coerce and check one value; raise ConfigError naming ``path`` otherwise."""
    typ, md = _type_of(cls, f), f.metadata
    if typ is bool:
        if not isinstance(value, bool):
            raise _bad(path, cls, f, value)
        return value
    if typ is str:
        if not isinstance(value, str) or value not in md["choices"]:
            raise _bad(path, cls, f, value)
        return value
    if typing.get_origin(typ) is tuple:
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            raise _bad(path, cls, f, value, "a non-empty ")
        checked = tuple(_check_number(float, md, v) for v in value)
    else:
        checked = _check_number(typ, md, value)
    if checked is None or (isinstance(checked, tuple) and None in checked):
        raise _bad(path, cls, f, value)
    return checked


def _check_number(typ: type, md: Any, value: Any) -> Any:
    """``value`` as a ``typ`` in the field's range, or None. Floats are canonical: ``-0.0``
    becomes ``0.0`` (so equal configs have one JSON spelling and one run id)."""
    if isinstance(value, bool):
        return None
    if typ is int:
        if not isinstance(value, int):
            return None
    elif typ is float:
        if not isinstance(value, (int, float)):
            return None
        try:
            value = float(value) + 0.0  # + 0.0 maps -0.0 to 0.0
        except OverflowError:  # an integer beyond the float range
            return None
        if math.isnan(value):
            return None
    lo, hi = md.get("range") or (-INF, INF)
    if not lo <= value <= hi:
        return None
    return value

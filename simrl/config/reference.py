"""The configuration reference: a table per section, generated from the fields'
documentation and allowed values (the body of ``docs/configuration.md``)."""

from __future__ import annotations

import dataclasses

from simrl.config.fields import describe, to_plain
from simrl.config.run import SECTIONS, Config


def reference_markdown() -> str:
    """The configuration reference table (the body of ``docs/configuration.md``)."""
    lines = []
    top = [f for f in dataclasses.fields(Config) if f.name not in SECTIONS]
    groups: list[tuple[str, type, list[dataclasses.Field]]] = [("(top level)", Config, top)]
    groups += [(name, cls, list(dataclasses.fields(cls))) for name, cls in SECTIONS.items()]
    for name, cls, fields in groups:
        title = "Top level" if cls is Config else f"`[{name}]`"
        lines += [f"### {title}", "", (cls.__doc__ or "").strip().splitlines()[0], ""]
        lines += ["| field | default | allowed | meaning |", "|---|---|---|---|"]
        for f in fields:
            key = f.name if cls is Config else f"{name}.{f.name}"
            default = to_plain(f.default)
            shown = str(default).lower() if isinstance(default, bool) else repr(default)
            lines.append(f"| `{key}` | `{shown}` | {describe(cls, f)} | {f.metadata['help']} |")
        lines.append("")
    return "\n".join(lines)

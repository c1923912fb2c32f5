"""Griffe extension: simrl's docstrings as the API pages show them, with checked cross-references.

simrl's docstrings cross-reference objects with Sphinx-style roles (``:func:``, ``:class:``,
``:mod:``, ``:meth:``, ``:attr:``, ``:data:``, ``:exc:``). When the package is loaded, every
role in every docstring of ``simrl`` is resolved the way Python would resolve the name (the
object itself, then its class and module, with the module's imports, then ``simrl.`` paths)
and rewritten as an autorefs link to the object's canonical path, so the site links it.

Config fields are declared as ``name: type = _f(default, help, ...)``: their signatures show
the default alone (the help and the allowed values are in the configuration reference).

Module and class constants are documented, as in Sphinx, by ``#:`` comment lines just
above them; they become the constant's docstring (so a role can link to it).

A role naming something that does not exist is a warning, so ``mkdocs build --strict``
fails on a docstring that refers to a renamed or removed name. A name with a private part
(``_kernels``) is checked but shown as code (private modules have no API page), and so is a
dotted name from another package (``numpy.random.Generator``): it is not looked up.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import griffe

# A child of the "mkdocs" logger: mkdocs counts its warnings, and --strict fails on them.
log = logging.getLogger("mkdocs.plugins.simrl.docstrings")

ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|exc|obj|const):`(~?)([^`<>]+)`")


class SimrlDocstrings(griffe.Extension):
    """Once the package is loaded: field defaults, ``#:`` docstrings, then every role resolved."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "simrl":
            return
        self.collection = loader.modules_collection
        for obj in _walk(pkg):
            if obj.is_attribute and obj.docstring is None:
                _comment_docstring(obj, loader)
            if obj.is_attribute:
                obj.value = _field_default(obj.value)
            if obj.is_function:
                for param in obj.parameters:
                    param.default = _field_default(param.default)
        for obj in _walk(pkg):
            if obj.docstring is not None:
                text = obj.docstring.value
                obj.docstring.value = ROLE.sub(lambda m, o=obj: self._link(o, m), text)

    def _lookup(self, path: str) -> griffe.Object | None:
        """The object at a dotted path, following aliases inside simrl; None if there is none."""
        for _ in range(10):  # alias chains are short; a cycle is not an object
            try:
                found = self.collection[path]
            except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
                return None
            if not isinstance(found, griffe.Alias):
                return found
            path = found.target_path
            if path.split(".")[0] != "simrl":
                return None
        return None

    def _resolve(self, obj: griffe.Object, name: str) -> griffe.Object | None:
        """``name`` as Python would see it from ``obj``'s docstring."""
        scope: griffe.Object | None = obj
        while scope is not None:
            found = self._lookup(f"{scope.path}.{name}")
            if found is not None:
                return found
            scope = scope.parent
        return self._lookup(name)

    def _link(self, obj: griffe.Object, match: re.Match[str]) -> str:
        tilde, name = match.group(1), match.group(2).strip()
        shown = f"`{name.rsplit('.', 1)[-1] if tilde else name}`"
        target = self._resolve(obj, name)
        if target is None:
            head = name.split(".")[0]
            if head != name and head != "simrl" and self._resolve(obj, head) is None:
                return shown  # another package's name (numpy, gymnasium): not looked up
            where = f"{obj.relative_filepath}:{obj.lineno}" if obj.lineno else obj.path
            log.warning(
                "%s: docstring of %s refers to %r, which does not exist", where, obj.path, name
            )
            return shown
        if any(part.startswith("_") for part in target.path.split(".")):
            return shown  # private: checked, no API page to link to
        return f"[{shown}][{target.path}]"


def _field_default(value: Any) -> Any:
    """The default of a config field declared with ``_f(default, help, ...)``, else ``value``."""
    if isinstance(value, griffe.ExprCall) and str(value.function) == "_f" and value.arguments:
        return value.arguments[0]
    return value


def _comment_docstring(attr: griffe.Object, loader: griffe.GriffeLoader) -> None:
    """Make the ``#:`` comment lines just above a constant its docstring."""
    if attr.lineno is None or attr.filepath not in loader.lines_collection:
        return
    lines = loader.lines_collection[attr.filepath]
    start = attr.lineno - 1  # index of the assignment's line
    while start > 0 and lines[start - 1].lstrip().startswith("#:"):
        start -= 1
    if start == attr.lineno - 1:
        return
    text = "\n".join(line.lstrip()[2:].strip() for line in lines[start : attr.lineno - 1])
    attr.docstring = griffe.Docstring(
        text,
        lineno=start + 1,
        endlineno=attr.lineno - 1,
        parent=attr,
        parser=loader.docstring_parser,
        parser_options=loader.docstring_options,
    )


def _walk(obj: griffe.Object):
    """``obj`` and every object defined in it (not imported into it), depth first."""
    yield obj
    for member in obj.members.values():
        if not isinstance(member, griffe.Alias):
            yield from _walk(member)

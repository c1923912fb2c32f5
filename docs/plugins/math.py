"""MkDocs hook: ``$...$`` and ``$$...$$`` formulas become MathML when the site is built.

``pymdownx.arithmatex`` (generic mode) marks the formulas; this hook converts each one to
MathML with latex2mathml (pure Python). Browsers render MathML natively, so the site needs no
math JavaScript and no font from another host. A formula latex2mathml cannot read is a
warning, so ``mkdocs build --strict`` fails on it.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from latex2mathml.converter import convert
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.plugins.simrl.math")

INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def _mathml(page: Page, latex: str, display: str) -> str | None:
    tex = html.unescape(latex).strip()
    try:
        return convert(tex, display=display)
    except Exception as exc:  # latex2mathml raises several kinds for unreadable input
        log.warning("%s: formula %r cannot be rendered (%s)", page.file.src_uri, tex, exc)
        return None


def on_page_content(content: str, page: Page, **kwargs: Any) -> str:
    def block(m: re.Match[str]) -> str:
        out = _mathml(page, m.group(1), "block")
        return m.group(0) if out is None else f'<div class="math">{out}</div>'

    def inline(m: re.Match[str]) -> str:
        out = _mathml(page, m.group(1), "inline")
        return m.group(0) if out is None else out

    return INLINE.sub(inline, BLOCK.sub(block, content))

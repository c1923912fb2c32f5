"""MkDocs hook: links from a page to repository files outside ``docs/`` (the experiment specs
in ``examples/``) are served by the site.

The pages are also read on the repository page, where ``../../examples/experiments/bsr.toml``
is the right link. MkDocs only knows the files under ``docs/``, so each such link whose
target exists in the repository is pointed at a copy of the file at the same path under the
site root (``examples/experiments/bsr.toml``). A link to a repository file that does not
exist is left alone, and ``mkdocs build --strict`` fails on it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")
# Fenced code blocks are shown as they are; links are only rewritten outside them.
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _outside(page_uri: str, link: str) -> str | None:
    """The repository path a relative link of a page points to, if it leaves ``docs/``."""
    if "://" in link or link.startswith(("/", "mailto:")):
        return None
    path = posixpath.normpath(posixpath.join("docs", posixpath.dirname(page_uri), link))
    return None if path.startswith(("docs/", "../")) or path == "docs" else path


def _targets(config: Any, files: Files) -> set[str]:
    root = Path(config["config_file_path"]).parent
    found = set()
    for file in files.documentation_pages():
        text = FENCE.sub("", Path(file.abs_src_path).read_text(encoding="utf-8"))
        for m in LINK.finditer(text):
            path = _outside(file.src_uri, m.group(2))
            if path is not None and (root / path).is_file():
                found.add(path)
    return found


def on_files(files: Files, config: Any) -> Files:
    root = Path(config["config_file_path"]).parent
    for path in sorted(_targets(config, files)):
        if files.get_file_from_path(path) is None:
            files.append(File.generated(config, path, abs_src_path=str(root / path)))
    return files


def on_page_markdown(markdown: str, page: Page, config: Any, files: Files) -> str:
    def rewrite(m: re.Match[str]) -> str:
        path = _outside(page.file.src_uri, m.group(2))
        if path is None or files.get_file_from_path(path) is None:
            return m.group(0)
        link = posixpath.relpath(path, posixpath.dirname(page.file.src_uri) or ".")
        return f"{m.group(1)}{link}{m.group(3) or ''}{m.group(4)}"

    out, last = [], 0
    for fence in FENCE.finditer(markdown):
        out += [LINK.sub(rewrite, markdown[last : fence.start()]), fence.group(0)]
        last = fence.end()
    out.append(LINK.sub(rewrite, markdown[last:]))
    return "".join(out)

"""The commands and config keys the docs show are real.

Every ``simrl ...`` command in README.md and docs/ (fenced code blocks and inline code) is
checked against the CLI's own argument parser (never executed): a full command must parse,
a mention or a usage synopsis may leave values out but may only name real subcommands and
options. Every ``--set`` key and ``--by``/``--x`` field is a config field, every fenced TOML
block is a run config or a sweep spec that validates, and every spec file a command names
exists and expands. A renamed flag or field makes these tests fail.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from simrl import cli
from simrl.config import Config, ConfigError, from_dict, load, parse_override
from simrl.sweep import expand, load_spec

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
SHELL = {"", "bash", "sh", "shell", "console", "text"}
SPEC_KEYS = {"base", "grid", "random", "report"}  # a TOML block with one of these is a spec
FIELD_OPTIONS = {"--by", "--x"}  # options whose value is a dotted config field


@dataclass(frozen=True)
class Command:
    """A ``simrl`` command shown on a page: ``full`` if it is meant to be run as shown."""

    where: str
    tokens: tuple[str, ...]
    full: bool


def fenced_blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(language, line number of the first content line, lines) of each fenced block."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, j = m.group(1), m.group(2).lower(), i + 1
        close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        blocks.append((lang, i + 2, lines[i + 1 : j]))
        i = j + 1
    return blocks


def without_fences(text: str) -> str:
    """The text with every fenced block's lines blanked (line numbers kept)."""
    lines = text.splitlines()
    for _, start, body in fenced_blocks(text):
        for k in range(start - 2, start + len(body)):
            if k < len(lines):
                lines[k] = ""
    return "\n".join(lines)


def _is_usage(line: str) -> bool:
    """A usage synopsis (``[--workers N | --scheduler ADDR]``, ``csv|parquet``)."""
    return bool(re.search(r"\[-|\w\|\w", line))


def _segments(line: str) -> list[list[str]]:
    """The simple commands of a shell line (split at ``&&``, ``||``, ``;`` and pipes)."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    segments: list[list[str]] = [[]]
    try:
        tokens = list(lex)
    except ValueError:  # unbalanced quotes: keep the words, so the check reports the line
        return [line.split()]
    for tok in tokens:
        if tok in ("&&", "||", ";", "|", "&"):
            segments.append([])
        else:
            segments[-1].append(tok)
    return segments


def _logical_lines(body: list[str]) -> list[tuple[int, str]]:
    """Lines with backslash continuations joined, a wrapped usage synopsis joined, comments
    dropped, and, in a block with ``$`` prompts, only the prompt lines."""
    prompted = any(line.lstrip().startswith("$ ") for line in body)
    out: list[tuple[int, str]] = []
    continued = False
    for k, raw in enumerate(body):
        line = raw.strip()
        wrapped = bool(out) and raw[:1].isspace() and line.startswith("[")
        if prompted and not (continued or wrapped):
            if not line.startswith("$ "):
                continue
            line = line[2:]
        line = re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if continued or wrapped:
            out[-1] = (out[-1][0], f"{out[-1][1]} {line.rstrip(chr(92))}")
        else:
            out.append((k, line.rstrip("\\")))
        continued = line.endswith("\\")
    return out


def commands_in(text: str, name: str) -> list[Command]:
    """Every ``simrl`` command a page shows."""
    found = []
    for lang, start, body in fenced_blocks(text):
        if lang not in SHELL:
            continue
        for k, line in _logical_lines(body):
            if not re.search(r"(^|\s)simrl(\s|$)", line):
                continue
            usage = _is_usage(line)
            for seg in [line.split()] if usage else _segments(line):
                if seg[:1] == ["simrl"]:
                    found.append(Command(f"{name}:{start + k}", tuple(seg), not usage))
    prose = without_fences(text)
    for m in re.finditer(r"(?<!`)`([^`]+)`(?!`)", prose):
        code = " ".join(m.group(1).split())
        if code == "simrl" or code.startswith("simrl "):
            line = prose.count("\n", 0, m.start()) + 1
            found.append(Command(f"{name}:{line}", tuple(code.split()), False))
    return found


def toml_blocks(text: str, name: str) -> list[tuple[str, str]]:
    return [
        (f"{name}:{start}", "\n".join(body))
        for lang, start, body in fenced_blocks(text)
        if lang == "toml"
    ]


def _read(page: Path) -> tuple[str, str]:
    return page.read_text(encoding="utf-8"), page.relative_to(ROOT).as_posix()


COMMANDS = [c for page in PAGES for c in commands_in(*_read(page))]
TOML_BLOCKS = [b for page in PAGES for b in toml_blocks(*_read(page))]


def _flatten(d: dict, prefix: str = "") -> list[str]:
    names = []
    for key, value in d.items():
        if isinstance(value, dict):
            names += _flatten(value, f"{prefix}{key}.")
        else:
            names.append(f"{prefix}{key}")
    return names


FIELDS = frozenset(_flatten(Config().to_dict()))


def _placeholder(text: str) -> bool:
    """``DIR``, ``SPEC.toml``, ``SECTION.KEY=VALUE``, ``<change>``, ``...``: not a value."""
    return (
        text in ("...", "…")
        or text.startswith("<")
        or re.fullmatch(r"[A-Z][A-Z0-9_]*(\.[A-Za-z]+)*(=.*)?", text) is not None
    )


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the simrl parser has no subcommands")


def check_command(tokens: tuple[str, ...], full: bool) -> None:
    """Raise AssertionError naming what the docs show that the CLI does not accept."""
    parser = cli.build_parser()
    shown = " ".join(tokens)
    args = [t for t in tokens[1:] if t not in ("|", "...", "…")]
    args = [t.strip("[]") for t in args]
    if not args:
        return  # "simrl" or "simrl ..." names the program
    if args[0].startswith("-"):
        assert args[0] in parser._option_string_actions, f"{shown}: no option {args[0]}"
        return
    subs = _subparsers(parser)
    assert args[0] in subs, f"{shown}: no subcommand {args[0]!r} (known: {', '.join(subs)})"
    actions = subs[args[0]]._option_string_actions
    for i, tok in enumerate(args[1:], start=1):
        if not tok.startswith("-"):
            continue
        flag, _, inline = tok.partition("=")
        assert flag in actions, f"{shown}: `simrl {args[0]}` has no option {flag}"
        value = inline or (args[i + 1] if i + 1 < len(args) else "")
        action = actions[flag]
        if action.nargs == 0 or not value or value.startswith("-") or _placeholder(value):
            continue
        if action.choices is not None:
            for alt in value.split("|"):
                assert alt in action.choices, f"{shown}: {flag} {alt}: not one of the choices"
        if flag == "--set":
            key, _ = parse_override(value)
            assert key in FIELDS, f"{shown}: --set {key}: no such config field"
        if flag in FIELD_OPTIONS:
            assert value in FIELDS, f"{shown}: {flag} {value}: no such config field"
    if full:
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(list(tokens[1:]))
        except SystemExit:
            raise AssertionError(f"{shown}: {err.getvalue().strip()}") from None


def check_toml(text: str) -> None:
    """A run config must build; a sweep spec must expand (an example ``base`` path is
    replaced by the defaults)."""
    data = tomllib.loads(text)
    if SPEC_KEYS & set(data):
        if isinstance(data.get("base"), str) and not (ROOT / data["base"]).is_file():
            data["base"] = {}
        expand(data, ROOT)
    else:
        from_dict(data)


def test_the_docs_show_commands_and_toml():
    """The collection is not empty: a change in how pages are written cannot turn the
    checks below into no checks."""
    assert sum(c.full for c in COMMANDS) >= 10
    assert sum(not c.full for c in COMMANDS) >= 5
    assert any("--set" in c.tokens for c in COMMANDS)
    assert TOML_BLOCKS


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.where)
def test_command_parses(command):
    check_command(command.tokens, command.full)


@pytest.mark.parametrize(("where", "text"), TOML_BLOCKS, ids=[w for w, _ in TOML_BLOCKS])
def test_toml_block_is_a_valid_config_or_spec(where, text):
    try:
        check_toml(text)
    except ConfigError as exc:
        raise AssertionError(f"{where}: {exc}") from None


# Specs named by a path in the repository (``examples/...``); a bare ``big.toml`` is a name
# for the reader's own file.
SPEC_FILES = sorted(
    {
        t
        for c in COMMANDS
        if c.tokens[1:2] in (("sweep",), ("experiment",))
        for t in c.tokens
        if t.endswith(".toml") and "/" in t
    }
)


@pytest.mark.parametrize("path", SPEC_FILES)
def test_spec_a_command_names_exists_and_expands(path):
    assert (ROOT / path).is_file(), f"{path}: named by a command in the docs, not in the repo"
    assert load_spec(ROOT / path)


CONFIG_FILES = sorted(
    {
        c.tokens[i + 1]
        for c in COMMANDS
        for i, t in enumerate(c.tokens[:-1])
        if t == "--config" and "/" in c.tokens[i + 1]
    }
)


@pytest.mark.parametrize("path", CONFIG_FILES)
def test_config_a_command_names_exists_and_loads(path):
    assert (ROOT / path).is_file(), f"{path}: named by a command in the docs, not in the repo"
    load(ROOT / path)


# The checks themselves: each must reject what a stale page would show.


def test_collector_finds_every_form():
    text = (
        "Run `simrl run --set rm.lr=0.1` or:\n\n"
        "```bash\n"
        "pip install -e . && simrl run \\\n    --out out   # comment\n"
        "simrl run --json | jq .summary\n"
        "```\n\n"
        "```\n$ simrl export runs.sqlite --out x.csv\nsimrl: error: output\n```\n"
    )
    found = {(c.tokens, c.full) for c in commands_in(text, "page.md")}
    assert found == {
        (("simrl", "run", "--set", "rm.lr=0.1"), False),
        (("simrl", "run", "--out", "out"), True),
        (("simrl", "run", "--json"), True),
        (("simrl", "export", "runs.sqlite", "--out", "x.csv"), True),
    }


@pytest.mark.parametrize(
    "tokens",
    [
        ("simrl", "run", "--sett", "rm.lr=0.1"),  # renamed flag
        ("simrl", "run", "--set", "rm.learning_rate=0.1"),  # renamed field
        ("simrl", "plot", "s.sqlite", "--out", "d", "--by", "rm.bsr"),  # field of --by
        ("simrl", "export", "s.sqlite", "--format", "xlsx", "--out", "x"),  # a choice
        ("simrl", "sweeps", "spec.toml", "--db", "s.sqlite"),  # renamed subcommand
        ("simrl", "sweep", "spec.toml"),  # a required option left out of a full command
    ],
)
def test_check_rejects_what_the_cli_does_not_accept(tokens):
    with pytest.raises(AssertionError):
        check_command(tokens, full=True)


def test_check_allows_placeholders_in_mentions_and_synopses():
    check_command(("simrl", "run", "--set", "<change>"), full=False)
    check_command(("simrl", "sweep", "SPEC.toml", "--db", "FILE.sqlite", "[--workers", "N"), False)
    check_command(("simrl", "export", "F.sqlite", "--format", "csv|parquet", "--out", "P"), False)
    with pytest.raises(AssertionError):
        check_command(("simrl", "sweep", "SPEC.toml", "[--worker", "N]"), full=False)


@pytest.mark.parametrize(
    "text",
    [
        "[rm]\nlearning_rate = 0.1\n",  # a renamed field in a run config
        '[grid]\n"rm.bsr" = [0.0, 0.1]\n',  # ... in a spec's axes
        '[random]\nn = 2\n"policy.kl" = { uniform = [0.0, 0.1] }\n',  # ... in its draws
        "[base.rm]\nlr = 0.1\nlosss = 'bt'\n",  # ... in its base
    ],
)
def test_toml_check_rejects_unknown_fields(text):
    with pytest.raises(ConfigError):
        check_toml(text)

"""``python -m simrl.cli``: the ``simrl`` program."""

from simrl.cli.program import console

console()

"""Run configuration: one frozen dataclass per section, TOML loading, ``--set`` overrides.

Every field carries its documentation and its allowed values in ``dataclasses.field``
metadata (``help``, and ``range`` or ``choices``). That one source drives validation (every
section checks its fields when it is built, directly or by :func:`from_dict`), the error
messages, and the configuration reference in ``docs/configuration.md``
(:func:`reference_markdown`; a test keeps the page in step).

Validation happens before any work starts: a bad value raises :class:`ConfigError` whose
message is a single line naming the field and what is allowed.

The package has a module per concern: ``fields`` (declaring and checking a field), a module
per section (``world`` with the gold and the data, ``rm``, ``policy``, ``evaluation``),
``run`` (the whole :class:`Config` and the checks across fields), ``memory`` (the size of a
run), ``loading`` (TOML and overrides) and ``reference`` (the generated tables). Import from
``simrl.config`` itself.
"""

from simrl.config.evaluation import EvalConfig
from simrl.config.fields import INF, ConfigError
from simrl.config.loading import as_config, load, parse_override, read_toml
from simrl.config.memory import GIB, MAX_RUN_BYTES, estimate_bytes, max_run_bytes
from simrl.config.policy import OPTIMIZER_FAMILIES, PolicyConfig
from simrl.config.reference import reference_markdown
from simrl.config.rm import RMConfig
from simrl.config.run import SECTIONS, Config, from_dict
from simrl.config.world import DataConfig, GoldConfig, WorldConfig

__all__ = [
    "GIB",
    "INF",
    "MAX_RUN_BYTES",
    "OPTIMIZER_FAMILIES",
    "SECTIONS",
    "Config",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "GoldConfig",
    "PolicyConfig",
    "RMConfig",
    "WorldConfig",
    "as_config",
    "estimate_bytes",
    "from_dict",
    "load",
    "max_run_bytes",
    "parse_override",
    "read_toml",
    "reference_markdown",
]

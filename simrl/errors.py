"""Errors simrl raises on purpose (besides :class:`simrl.config.ConfigError`)."""


class DivergenceError(RuntimeError):
    """A fit or an optimization produced a non-finite number; nothing is passed on as NaN."""

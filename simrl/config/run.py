"""The whole run's config: its sections, building it from a dict, and the checks across
fields (run before any work starts)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from simrl.config.evaluation import EvalConfig
from simrl.config.fields import Checked, ConfigError, check_fields, option, show, to_plain
from simrl.config.memory import check_size
from simrl.config.policy import PolicyConfig
from simrl.config.rm import RMConfig
from simrl.config.world import DataConfig, GoldConfig, WorldConfig


@dataclass(frozen=True)
class Config(Checked):
    """A whole run. ``seed`` drives data, fitting, optimization and evaluation."""

    seed: int = option(0, "Run seed.", range=(0, 2**63 - 1))
    world: WorldConfig = field(default_factory=WorldConfig)
    gold: GoldConfig = field(default_factory=GoldConfig)
    data: DataConfig = field(default_factory=DataConfig)
    rm: RMConfig = field(default_factory=RMConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        check_fields(self)
        _check_cross_fields(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), suitable for JSON and TOML."""
        return to_plain(dataclasses.asdict(self))

    def replace(self, **changes: Any) -> Config:
        """Return a validated copy with dotted-path changes, e.g. ``{"rm.lr": 0.1}``."""
        return from_dict(merge(self.to_dict(), nest(changes)))


SECTIONS: dict[str, type] = {
    "world": WorldConfig,
    "gold": GoldConfig,
    "data": DataConfig,
    "rm": RMConfig,
    "policy": PolicyConfig,
    "eval": EvalConfig,
}


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """A nested dict from dotted keys: ``{"rm.lr": 0.1}`` -> ``{"rm": {"lr": 0.1}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: '{p}' is a value, not a section")
        node[parts[-1]] = value
    return out


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``over``, section by section (neither is modified)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _build(cls: type, data: Any, prefix: str) -> Any:
    """``cls(**data)`` with sections built recursively; the dataclasses check the values."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.')}: must be a table of fields, got {show(data)}")
    known = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in known:
            allowed = ", ".join(known)
            raise ConfigError(f"{prefix}{key}: unknown field (known: {allowed})")
    kwargs = dict(data)
    if cls is Config:
        for name in SECTIONS.keys() & kwargs.keys():
            kwargs[name] = _build(SECTIONS[name], kwargs[name], f"{name}.")
    return cls(**kwargs)


def from_dict(data: dict[str, Any]) -> Config:
    """Build and validate a :class:`Config` from a nested dict (missing fields default)."""
    return _build(Config, data, "")


def _check_cross_fields(cfg: Config) -> None:
    """Constraints that involve more than one field."""
    w, p, e = cfg.world, cfg.policy, cfg.eval
    if w.ref_len > w.max_len:
        raise ConfigError(
            f"world.ref_len = {w.ref_len}: must be at most world.max_len = {w.max_len}"
        )
    if cfg.gold.polite_tokens > w.vocab_size:
        raise ConfigError(
            f"gold.polite_tokens = {cfg.gold.polite_tokens}: must be at most "
            f"world.vocab_size = {w.vocab_size}"
        )
    if p.optimizer in ("rloo", "ppo", "grpo") and p.rloo_k < 2:
        raise ConfigError(
            f"policy.rloo_k = {p.rloo_k}: must be at least 2 for "
            f"policy.optimizer = {p.optimizer!r} (leave-one-out baseline)"
        )
    if p.occupancy_chi2 > 0 and p.family != "policy_gradient":
        raise ConfigError(
            f"policy.occupancy_chi2 = {p.occupancy_chi2}: applies to the policy-gradient "
            f"optimizers (reinforce, rloo, ppo, grpo), not policy.optimizer = {p.optimizer!r}"
        )
    if p.family == "direct" and p.reward != "proxy":
        raise ConfigError(
            f"policy.reward = {p.reward!r}: direct alignment (policy.optimizer = "
            f"{p.optimizer!r}) fits the preference pairs and has no reward to swap; use 'proxy'"
        )
    if p.family == "direct" and e.ndr:
        raise ConfigError(
            f"eval.ndr = true: undefined for direct alignment (policy.optimizer = "
            f"{p.optimizer!r}), which has no reward to optimize in the proxy's place"
        )
    if cfg.rm.label_smoothing > 0 and cfg.rm.loss == "hinge":
        raise ConfigError(
            f"rm.label_smoothing = {cfg.rm.label_smoothing}: applies to the "
            f"logistic losses, not rm.loss = 'hinge'"
        )
    if p.batch_prompts > w.n_prompts:
        raise ConfigError(
            f"policy.batch_prompts = {p.batch_prompts}: must be at most "
            f"world.n_prompts = {w.n_prompts}"
        )
    if p.bon_samples < p.bon_n_max:
        raise ConfigError(
            f"policy.bon_samples = {p.bon_samples}: must be at least "
            f"policy.bon_n_max = {p.bon_n_max}"
        )
    if e.max_samples < e.min_samples:
        raise ConfigError(
            f"eval.max_samples = {e.max_samples}: must be at least "
            f"eval.min_samples = {e.min_samples}"
        )
    n_train = w.n_prompts - round(cfg.data.heldout_prompt_fraction * w.n_prompts)
    if n_train < 1:
        raise ConfigError(
            f"data.heldout_prompt_fraction = {cfg.data.heldout_prompt_fraction}"
            f": leaves no training prompt among {w.n_prompts}"
        )
    if cfg.rm.init_scale == 0.0:
        # all-zero weights are a saddle of w . tanh(W f + c): every gradient is 0
        raise ConfigError(
            "rm.init_scale = 0.0: must be > 0 (zero initial weights get no gradient, "
            "so the proxy stays constant)"
        )
    g = cfg.gold
    scales = (g.global_scale, g.prompt_scale, g.coherence_scale, g.length_weight)
    polite = g.polite_value if g.polite_tokens > 0 else 0.0
    if not any((*scales, g.repeat_penalty, polite)):
        raise ConfigError(
            "gold: global_scale, prompt_scale, coherence_scale, length_weight, "
            "repeat_penalty and polite_value are all 0: the gold reward is constant "
            "(make one > 0)"
        )
    check_size(cfg)

"""Run configuration: one frozen dataclass per section, TOML loading, ``--set`` overrides.

Every field carries its documentation and its allowed values in ``dataclasses.field``
metadata (``help``, and ``range`` or ``choices``). That one source drives validation (every
section checks its fields when it is built, directly or by :func:`from_dict`), the error
messages, and the configuration reference in ``docs/configuration.md``
(:func:`reference_markdown`; a test keeps the page in step).

Validation happens before any work starts: a bad value raises :class:`ConfigError` whose
message is a single line naming the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INF = math.inf


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


def _f(
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
    return field(default=default, metadata={"help": help, "range": range, "choices": choices})


class _Checked:
    """Base of the config dataclasses: building one, directly or by :func:`from_dict`,
    coerces and checks every field once (``__post_init__``)."""

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True)
class WorldConfig(_Checked):
    """The token world: prompts, vocabulary, length cap and the reference ("SFT") policy."""

    seed: int = _f(
        0,
        "Seed of the world itself (gold weights and reference policy); "
        "kept apart from the run seed so seeds vary the data, not the world.",
        range=(0, 2**63 - 1),
    )
    n_prompts: int = _f(16, "Number of prompts x (drawn uniformly).", range=(1, 4096))
    vocab_size: int = _f(10, "Number of content tokens V (token 0 is EOS).", range=(2, 255))
    max_len: int = _f(12, "Length cap T: a response has at most T content tokens.", range=(1, 128))
    ref_len: float = _f(
        5.0,
        "Typical response length of the reference policy (where its EOS hazard crosses 1/2).",
        range=(0.5, 128.0),
    )
    ref_eos_slope: float = _f(
        1.0, "Slope of the reference EOS logit in the position t.", range=(0.0, 10.0)
    )
    ref_token_scale: float = _f(
        1.0,
        "Spread of the reference policy's token logits (0 = uniform over content tokens).",
        range=(0.0, 10.0),
    )
    ref_coherence: float = _f(
        1.0,
        "How strongly the reference policy follows the gold's "
        "coherence table B (its bigram logits are "
        "ref_coherence B + noise).",
        range=(-10.0, 10.0),
    )
    ref_polite_logit: float = _f(
        -1.0,
        "Logit added by the reference policy to the polite "
        "tokens (negative: it uses them sparingly).",
        range=(-20.0, 20.0),
    )
    ref_repeat_logit: float = _f(
        -1.5,
        "Logit added by the reference policy to repeating the previous token.",
        range=(-20.0, 20.0),
    )


@dataclass(frozen=True)
class GoldConfig(_Checked):
    """The hidden gold reward r*(x, y) and how preferences are drawn from it."""

    global_scale: float = _f(
        0.5, "Spread of token values shared by every prompt.", range=(0.0, 100.0)
    )
    prompt_scale: float = _f(1.0, "Spread of prompt-specific token values.", range=(0.0, 100.0))
    saturation: float = _f(
        2.0,
        "Count at which a valued token's contribution peaks (concave term c - c^2/(2 kappa)).",
        range=(0.1, 1000.0),
    )
    polite_tokens: int = _f(
        2,
        "Number of polite tokens (tokens 1..k): valuable once, harmful in excess.",
        range=(0, 255),
    )
    polite_value: float = _f(
        1.5, "Gold value added to each polite token for every prompt.", range=(0.0, 100.0)
    )
    polite_saturation: float = _f(
        1.0, "Count at which a polite token's value peaks.", range=(0.1, 1000.0)
    )
    coherence_scale: float = _f(
        0.5, "Spread of the bigram (word-order) values B[prev, v].", range=(0.0, 100.0)
    )
    length_weight: float = _f(0.4, "Weight of the concave length term.", range=(0.0, 100.0))
    length_opt: float = _f(6.0, "Length at which the gold length term peaks.", range=(0.1, 1000.0))
    repeat_penalty: float = _f(
        0.5, "Gold penalty per immediate repetition y_t = y_(t-1).", range=(0.0, 100.0)
    )
    tau: float = _f(
        1.0, "Temperature of gold preferences P(y1 > y2) = sigma((r1 - r2)/tau).", range=(1e-6, 1e6)
    )
    hard_labels: bool = _f(
        False, "Label by the sign of r1 - r2 (ties at random) instead of sampling from sigma."
    )
    label_noise: float = _f(0.1, "Probability epsilon that a label is flipped.", range=(0.0, 1.0))


@dataclass(frozen=True)
class DataConfig(_Checked):
    """Preference data for the proxy: who writes the responses, how many pairs, splits."""

    n_pairs: int = _f(2000, "Training preference pairs.", range=(1, 10_000_000))
    n_test_pairs: int = _f(
        2000,
        "Fresh pairs per evaluation split (in-domain and held-out prompts).",
        range=(1, 10_000_000),
    )
    heldout_prompt_fraction: float = _f(
        0.25, "Fraction of prompts kept out of the training pairs.", range=(0.0, 0.9)
    )
    ood_policy_seed: int = _f(
        1,
        "Seed of the other reference policy whose responses form the response-OOD and "
        "mutual-OOD evaluation sets; combined with world.seed into that policy's world "
        "seed, which never equals world.seed.",
        range=(0, 2**63 - 1),
    )
    temperatures: tuple[float, ...] = _f(
        (1.0,),
        "Mix of policies writing the responses: "
        "each response comes from the reference "
        "policy at a temperature drawn uniformly "
        "from this list.",
        range=(0.05, 20.0),
    )


@dataclass(frozen=True)
class RMConfig(_Checked):
    """The proxy reward model r_phi = w . tanh(W f(x, y) + c) + b and how it is fitted."""

    hidden: int = _f(32, "Width of the tanh hidden layer.", range=(1, 4096))
    prompt_features: bool = _f(
        True,
        "Include prompt-specific token counts among the features (needed to represent the gold).",
    )
    bigram_features: bool = _f(
        True,
        "Include bigram counts among the features (word order; most bigrams are rare in the data).",
    )
    loss: str = _f(
        "bt",
        "Pairwise loss: bt -log sigma(d); margin -log sigma(d - m); hinge relu(m - d); "
        "logitnorm -log sigma(d / sqrt(r_w^2 + r_l^2)); dr -log sigma(d) - log sigma(r_w) "
        "- log sigma(-r_l); d = r_w - r_l.",
        choices=("bt", "margin", "hinge", "logitnorm", "dr"),
    )
    margin: float = _f(1.0, "Margin m of the margin and hinge losses.", range=(0.0, 1e6))
    label_smoothing: float = _f(
        0.0,
        "Label smoothing a of the logistic losses: -(1-a) log sigma(z) - a log sigma(-z).",
        range=(0.0, 0.499),
    )
    weight_decay: float = _f(
        0.0, "Decoupled weight decay on W and w (AdamW; L2 shrinkage for SGD).", range=(0.0, 1e6)
    )
    center_rewards_coefficient: float = _f(
        0.0, "Per-pair centering: + c mean (r_w + r_l)^2 (TRL's name).", range=(0.0, 1e6)
    )
    bsr_lambda: float = _f(
        0.0,
        "Batch-wise sum-to-zero: + lambda B (mean of the 2B rewards)^2 per mini-batch.",
        range=(0.0, 1e6),
    )
    ensemble_size: int = _f(
        1,
        "Members k of a proxy ensemble (different initializations; warm: one shared).",
        range=(1, 64),
    )
    ensemble_bootstrap: bool = _f(
        False, "Fit each member on its own bootstrap resample of the pairs."
    )
    ensemble_mode: str = _f(
        "mean",
        "How members combine: mean, min (worst case), uwo (mean - lambda var), or warm "
        "(fine-tuned from one shared initialization, then their weights averaged into one "
        "network; Rame et al. 2024).",
        choices=("mean", "min", "uwo", "warm"),
    )
    ensemble_lambda: float = _f(
        1.0, "Variance weight lambda of the uwo ensemble.", range=(0.0, 1e6)
    )
    optimizer: str = _f("adam", "Optimizer over mini-batches.", choices=("adam", "sgd"))
    lr: float = _f(0.01, "Learning rate.", range=(1e-9, 100.0))
    batch_size: int = _f(64, "Pairs per mini-batch.", range=(1, 1_000_000))
    epochs: int = _f(30, "Passes over the training pairs.", range=(1, 100_000))
    init_scale: float = _f(0.1, "Standard deviation of the initial weights.", range=(0.0, 10.0))
    features: str = _f(
        "sufficient",
        "What the proxy reads: sufficient (the gold's statistics: token, prompt x token and "
        "bigram counts, length, repeats) or embedding (learned token embeddings summed over "
        "the response plus a learned prompt embedding; prompt_features and bigram_features "
        "then do not apply).",
        choices=("sufficient", "embedding"),
    )
    activation: str = _f(
        "tanh",
        "Hidden-layer activation: tanh (bounded), relu, gelu (z Phi(z)) or identity.",
        choices=("tanh", "relu", "gelu", "identity"),
    )
    depth: int = _f(
        1,
        "Hidden layers of width hidden (2: the representation differs from the first layer's).",
        range=(1, 2),
    )
    head_norm: str = _f(
        "none",
        "Norm of the hidden state before the linear head: none, or rmsnorm "
        "(h = g * a / sqrt(mean(a^2) + 1e-6) with a learned gain g, as in LLM reward heads).",
        choices=("none", "rmsnorm"),
    )
    track_dispersion: bool = _f(
        False,
        "After each epoch, record the CV of ||h - mean h|| over the responses of the first "
        "256 training pairs (rm_history.hnorm_centered_cv); off by default because it adds "
        "about a tenth to a default fit.",
    )
    pretrain: str = _f(
        "none",
        "Fit the network first with Bradley-Terry on pairs labelled by a related gold "
        "(related), then put a fresh head on it and fine-tune with rm.loss; or none.",
        choices=("none", "related"),
    )
    pretrain_gold_mix: float = _f(
        0.5,
        "rho: the related gold is rho z(this gold) + sqrt(1 - rho^2) z(another world's gold, "
        "orthogonalized), on within-prompt standardized scores, so its within-prompt "
        "correlation with this world's gold is rho.",
        range=(0.0, 1.0),
    )
    pretrain_pairs: int = _f(
        8000, "Pretraining pairs (training prompts, reference responses).", range=(2, 10_000_000)
    )
    pretrain_epochs: int = _f(10, "Passes over the pretraining pairs.", range=(1, 100_000))


@dataclass(frozen=True)
class PolicyConfig(_Checked):
    """How the policy is optimized (against the proxy, or the gold for reference runs)."""

    optimizer: str = _f(
        "rloo",
        "Policy gradient: reinforce (moving-average baseline), rloo (leave-one-out "
        "baseline), ppo (clipped ratio, several epochs per batch), grpo (group-normalized "
        "advantages, clipped ratio, per-response token mean; Dr. GRPO with grpo_std_norm = "
        "false); best-of-n: bon (from the reference policy); or a direct alignment loss on "
        "the preference pairs: dpo, ipo, slic or chipo.",
        choices=("reinforce", "rloo", "ppo", "grpo", "bon", "dpo", "ipo", "slic", "chipo"),
    )
    reward: str = _f(
        "proxy",
        "What is optimized: the proxy, or the gold itself (the best achievable curve).",
        choices=("proxy", "gold"),
    )
    steps: int = _f(
        2000,
        "Policy-gradient steps (direct alignment runs dpo_epochs passes over the pairs instead).",
        range=(1, 10_000_000),
    )
    eval_every: int = _f(
        100,
        "Policy-gradient steps between curve checkpoints (direct alignment: dpo_eval_every).",
        range=(1, 10_000_000),
    )
    lr: float = _f(0.01, "Learning rate on the logits (plain SGD).", range=(1e-9, 1e6))
    shared_logits: bool = _f(
        True,
        "Add per-token and per-(prompt, token) logits shared by "
        "all positions to the table, so a preference learnt in "
        "one state carries to others as in a language model.",
    )
    rloo_k: int = _f(
        4,
        "Responses per prompt per step, the group size G of grpo (at least 2 for rloo, ppo "
        "and grpo, whose baselines need another response).",
        range=(1, 4096),
    )
    batch_prompts: int = _f(
        0,
        "Prompts per step, drawn without replacement; 0 = every prompt.",
        range=(0, 4096),
    )
    reward_norm: str = _f(
        "ref",
        "How the optimized reward is normalized: none; ref (once, before optimization: "
        "(r - m(x)) / s with the per-prompt mean m(x) and the pooled within-prompt SD s on "
        "reference responses); batch (to mean 0, SD 1 over each batch's rewards, before "
        "the KL penalty).",
        choices=("none", "ref", "batch"),
    )
    reward_norm_samples: int = _f(
        1024,
        "Reference responses per prompt that measure m(x) and s for reward_norm = ref.",
        range=(2, 10_000_000),
    )
    kl_coef: float = _f(
        0.02,
        "beta of the KL penalty (initial value if kl_target > 0).",
        range=(0.0, 1e6),
    )
    kl_estimator: str = _f(
        "auto",
        "How the KL penalty enters the update, with L(y) = sum_t log(pi/pi_ref)(y_t|s_t) and "
        "r = pi_ref/pi: k1 in the reward (r_phi - beta L(y), score function); k2 as the "
        "sequence loss beta L(y)^2/2; k3 as the per-token loss beta sum_t (r - 1 - log r) "
        "(GRPO); losses differentiated through pi. auto: k3 for grpo (as Shao et al. 2024), "
        "k1 for the other policy-gradient optimizers.",
        choices=("auto", "k1", "k2", "k3"),
    )
    kl_target: float = _f(
        0.0,
        "Adaptive KL controller target (nats per response; Ziegler et al. 2019); 0 = fixed "
        "kl_coef.",
        range=(0.0, 1e6),
    )
    kl_horizon: float = _f(
        10000.0, "Horizon of the adaptive KL controller (samples).", range=(1.0, 1e12)
    )
    ppo_epochs: int = _f(4, "PPO and GRPO: passes over each batch.", range=(1, 1000))
    ppo_clip: float = _f(0.2, "PPO and GRPO: clip range epsilon of the ratio.", range=(1e-6, 10.0))
    ppo_norm_adv: bool = _f(
        True,
        "PPO: normalize advantages to mean 0, std 1 per batch (step size independent "
        "of the reward scale); GRPO normalizes per group instead.",
    )
    grpo_std_norm: bool = _f(
        True,
        "GRPO: A = (r - mean r)/(std r + 1e-4) over each prompt's group (sample SD) and each "
        "response's per-token objective averaged over its tokens (Shao et al. 2024); false: "
        "Dr. GRPO, A = r - mean r and summed over tokens (Liu et al. 2025).",
    )
    baseline_decay: float = _f(
        0.9, "REINFORCE: decay of the moving-average baseline.", range=(0.0, 0.9999)
    )
    beta: float = _f(
        0.1,
        "Direct alignment: beta of DPO, SLiC and chiPO (the loss sees beta h), and IPO's "
        "regularization tau (Azar et al. 2023), as each paper defines it.",
        range=(1e-6, 1e6),
    )
    dpo_epochs: int = _f(
        4,
        "Direct alignment: passes over the preference pairs (online: the same number of "
        "steps, each on fresh pairs).",
        range=(1, 100_000),
    )
    dpo_batch_size: int = _f(64, "Direct alignment: pairs per SGD step.", range=(1, 1_000_000))
    dpo_eval_every: int = _f(
        4,
        "Direct alignment: SGD steps between curve checkpoints (4 epochs of 2000 pairs at "
        "batch 64 are 124 steps: 32 checkpoints, 8 in the first epoch).",
        range=(1, 10_000_000),
    )
    dpo_lr: float = _f(
        10.0,
        "Direct alignment: SGD learning rate on the logits for the mean loss of a batch. "
        "At the reference policy a pair's loss has slope beta/2 in its log-ratio for dpo, "
        "beta for slic and chipo, 1/beta for ipo: scale dpo_lr by about beta^2/2 for ipo.",
        range=(1e-9, 1e6),
    )
    dpo_online: bool = _f(
        False,
        "Direct alignment: each step draws fresh pairs from the current policy, labelled "
        "by the proxy's Bradley-Terry probability sigma(r1 - r2), instead of the fixed "
        "preference pairs.",
    )
    chipo_rmax: float = _f(
        4.0,
        "chiPO: reward bound R_max; the implicit-reward margin is clipped to "
        "[-2 R_max, 2 R_max] (Huang et al. 2024, Algorithm 1); inf = no clipping.",
        range=(1e-6, INF),
    )
    occupancy_chi2: float = _f(
        0.0,
        "Coefficient lambda of the exact chi^2 divergence between the state-action "
        "occupancy measures of the policy and the reference subtracted from the objective "
        "(Laidlaw et al. 2025), descended with its exact gradient at every policy-gradient "
        "step; 0 = off.",
        range=(0.0, 1e6),
    )
    bon_n_max: int = _f(
        1024, "Best-of-n: largest n (curve at n = 1, 2, 4, ...).", range=(1, 1_000_000)
    )
    bon_samples: int = _f(
        4096,
        "Best-of-n: scored reference samples N per prompt for the "
        "unbiased estimator (N >= bon_n_max).",
        range=(1, 10_000_000),
    )
    bon_exact_max: int = _f(
        200_000,
        "Best-of-n: compute the exact KL of the best-of-n distribution when a prompt has at "
        "most this many possible responses.",
        range=(0, 10_000_000),
    )

    @property
    def family(self) -> str:
        """The optimizer's family: "policy_gradient", "direct" or "best_of_n"."""
        return OPTIMIZER_FAMILIES[self.optimizer]

    @property
    def kl_estimator_used(self) -> str:
        """``kl_estimator`` with ``auto`` resolved: k3 for grpo, k1 otherwise."""
        if self.kl_estimator != "auto":
            return self.kl_estimator
        return "k3" if self.optimizer == "grpo" else "k1"


#: Which module runs each ``policy.optimizer`` (:mod:`simrl.optimize` dispatches on it).
OPTIMIZER_FAMILIES = {
    **dict.fromkeys(("reinforce", "rloo", "ppo", "grpo"), "policy_gradient"),
    **dict.fromkeys(("dpo", "ipo", "slic", "chipo"), "direct"),
    "bon": "best_of_n",
}


@dataclass(frozen=True)
class EvalConfig(_Checked):
    """Evaluation of each checkpoint: exact gold, KL, length and entropy; Monte Carlo proxy."""

    se_target: float = _f(
        0.01,
        "Unused: the gold curve is now exact (gold_se = 0); kept so that configs and stored "
        "runs that set it still load. The proxy's target is eval.proxy_se_target.",
        range=(1e-6, 10.0),
    )
    proxy_se_target: float = _f(
        0.02,
        "Draw proxy samples until the standard error of the normalized proxy mean is at most "
        "this. 0.02 reference SDs is under 1% of the default run's proxy gain (about 3.4) and "
        "thinner than a plotted line, at a tenth of the samples a 0.01 gold target needed.",
        range=(1e-6, 10.0),
    )
    min_samples: int = _f(
        1024,
        "Proxy samples per checkpoint before checking the standard error (64 per prompt at "
        "the default 16 prompts, enough for a stable per-prompt variance estimate).",
        range=(2, 100_000_000),
    )
    max_samples: int = _f(262144, "Cap on proxy samples per checkpoint.", range=(2, 100_000_000))
    norm_samples: int = _f(
        65536,
        "Reference samples used to normalize the proxy (mean 0, std 1 under pi_ref; the "
        "gold's reference mean and std are exact). 65536 puts the normalization's error near "
        "0.003 in the mean and 0.2% in the std, well under eval.proxy_se_target.",
        range=(2, 100_000_000),
    )
    diagnostics: bool = _f(
        True,
        "Report proxy diagnostics: hidden-norm dispersion, effective rank, reward scale, "
        "and accuracy / Kendall tau in the four robustness scenarios.",
    )
    kendall_k: int = _f(4, "Responses per prompt for per-prompt Kendall tau.", range=(2, 64))
    ndr: bool = _f(
        False,
        "Also optimize the gold with the same optimizer and report the normalized drop "
        "NDR = gold(proxy run) / gold(gold run) at the final checkpoint.",
    )
    sqrt_kl_budgets: tuple[float, ...] = _f(
        (1.0, 2.0, 3.0, 4.0),
        "sqrt(KL) budgets at which the summary reports gold interpolated along the curve "
        "(gold_at_sqrt_kl), so arms are compared at matched distance from the reference.",
        range=(1e-6, 1e6),
    )
    saturation_entropy_ratio: float = _f(
        0.5,
        "A run is 'saturated' when the final policy's entropy per token is below this "
        "fraction of the reference policy's: most states are then near-deterministic and KL "
        "grows by sharpening, a regime Gao et al.'s forms were not fitted to.",
        range=(0.0, 1.0),
    )


@dataclass(frozen=True)
class Config(_Checked):
    """A whole run. ``seed`` drives data, fitting, optimization and evaluation."""

    seed: int = _f(0, "Run seed.", range=(0, 2**63 - 1))
    world: WorldConfig = field(default_factory=WorldConfig)
    gold: GoldConfig = field(default_factory=GoldConfig)
    data: DataConfig = field(default_factory=DataConfig)
    rm: RMConfig = field(default_factory=RMConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        _check_fields(self)
        _check_cross_fields(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), suitable for JSON and TOML."""
        return _to_plain(dataclasses.asdict(self))

    def replace(self, **changes: Any) -> Config:
        """Return a validated copy with dotted-path changes, e.g. ``{"rm.lr": 0.1}``."""
        return from_dict(_merge(self.to_dict(), _nest(changes)))


SECTIONS: dict[str, type] = {
    "world": WorldConfig,
    "gold": GoldConfig,
    "data": DataConfig,
    "rm": RMConfig,
    "policy": PolicyConfig,
    "eval": EvalConfig,
}


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return [_to_plain(v) for v in obj]
    return obj


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
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


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _describe(cls: type, f: dataclasses.Field) -> str:
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


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a config class (strings under __future__), computed once."""
    return typing.get_type_hints(cls)


def _type_of(cls: type, f: dataclasses.Field) -> Any:
    """The resolved annotation of a field."""
    return _hints(cls)[f.name]


def _show(value: Any, limit: int = 40) -> str:
    """``repr`` of a value for a one-line message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bad(path: str, cls: type, f: dataclasses.Field, value: Any, what: str = "") -> ConfigError:
    return ConfigError(f"{path} = {_show(value)}: must be {what}{_describe(cls, f)}")


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


def _section_prefix(cls: type) -> str:
    return next((f"{name}." for name, c in SECTIONS.items() if c is cls), "")


def _check_fields(obj: Any) -> None:
    """Check every field of a config dataclass, storing the coerced value (ints as floats
    in float fields, lists as tuples, ``-0.0`` as ``0.0``); sections must be sections."""
    cls, prefix = type(obj), _section_prefix(type(obj))
    for f in dataclasses.fields(cls):
        value = getattr(obj, f.name)
        if cls is Config and f.name in SECTIONS:
            if not isinstance(value, SECTIONS[f.name]):
                want = SECTIONS[f.name].__name__
                raise ConfigError(f"{f.name} = {_show(value)}: must be a {want}")
            continue
        checked = _check_value(prefix + f.name, cls, f, value)
        if checked is not value:
            object.__setattr__(obj, f.name, checked)  # frozen: set once, while building


def _build(cls: type, data: Any, prefix: str) -> Any:
    """``cls(**data)`` with sections built recursively; the dataclasses check the values."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.')}: must be a table of fields, got {_show(data)}")
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
    _check_size(cfg)


GIB = 2**30
#: Largest estimated memory of one run. A sweep runs one per worker; 4 GiB lets a 24 GiB
#: machine run four workers with 8 GiB to spare for the system, the coordinator and
#: SQLite. ``SIMRL_MAX_RUN_GIB`` raises (or lowers) it on a bigger (smaller) machine.
MAX_RUN_BYTES = 4 * GIB


def max_run_bytes() -> int:
    """The memory limit of one run: ``SIMRL_MAX_RUN_GIB`` GiB if set, else MAX_RUN_BYTES."""
    raw = os.environ.get("SIMRL_MAX_RUN_GIB")
    if raw is None:
        return MAX_RUN_BYTES
    try:
        gib = float(raw)
    except ValueError:
        gib = math.nan
    if not 0 < gib < 2**40:
        raise ConfigError(f"SIMRL_MAX_RUN_GIB = {_show(raw)}: must be a number of GiB > 0")
    return int(gib * GIB)


def estimate_bytes(cfg: Config) -> int:
    """Upper estimate of the memory one run of ``cfg`` needs, in bytes.

    The terms (float64 and int64 throughout): about eight copies of the policy table
    P x T x (V+1)^2 (reference logits and log-probabilities, policy logits, probabilities,
    gradient, occupancies); the proxy's F x H weights per member with gradient and two
    Adam moments; the tokens (T) and sparse features (at most 2 min(V, T) + T + 2 index and
    value pairs) of every preference pair; and two buffers of evaluation samples (the
    largest of max_samples, norm_samples and, for best-of-n, P x bon_samples).
    """
    w, rm = cfg.world, cfg.rm
    P, T, V = w.n_prompts, w.max_len, w.vocab_size
    policy = 8 * P * T * (V + 1) ** 2 * 8
    F = V + (P * V if rm.prompt_features else 0)
    F += ((V + 1) * V if rm.bigram_features else 0) + 2
    proxy = 4 * rm.ensemble_size * (F * rm.hidden + 2 * rm.hidden + 1) * 8
    per_response = T * 8 + (2 * min(V, T) + T + 2) * 16
    n_pairs = cfg.data.n_pairs + 3 * cfg.data.n_test_pairs
    data = 2 * n_pairs * per_response
    samples = max(cfg.eval.max_samples, cfg.eval.norm_samples)
    if cfg.policy.optimizer == "bon":
        samples = max(samples, P * cfg.policy.bon_samples)
    return policy + proxy + data + 2 * samples * per_response


def _check_size(cfg: Config) -> None:
    need, limit = estimate_bytes(cfg), max_run_bytes()
    if need > limit:
        w = cfg.world
        raise ConfigError(
            f"config too large: a run needs about {need / GIB:.1f} GiB (world.n_prompts = "
            f"{w.n_prompts}, world.max_len = {w.max_len}, world.vocab_size = {w.vocab_size}, "
            f"the data and sample counts); the limit is {limit / GIB:.1f} GiB "
            "(SIMRL_MAX_RUN_GIB)"
        )


def parse_override(item: str) -> tuple[str, Any]:
    """Parse one ``section.key=value`` override; the value is read as TOML, else a string."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    key, raw = (s.strip() for s in item.split("=", 1))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except ValueError:  # TOMLDecodeError, or a number too long to convert
        value = raw  # bare words such as rloo or bon
    return key, value


def read_toml(path: str | Path, what: str = "") -> dict[str, Any]:
    """The parsed TOML file at ``path``; any failure is one ConfigError naming ``what`` and
    the path (missing, a directory, unreadable, not UTF-8, not TOML)."""
    where = f"{what}{path}"
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    except (ValueError, RecursionError) as exc:  # e.g. a number too long to convert
        raise ConfigError(f"{where}: not valid TOML ({_show(str(exc), 80)})") from None


def as_config(config: Any, where: str = "config") -> Config:
    """A :class:`Config` from a Config, a nested dict of sections, or None (the defaults).

    Raises:
        ConfigError: anything else, or a dict that does not validate.
    """
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return from_dict(config)
    raise ConfigError(
        f"{where} = {_show(config)}: must be a simrl.config.Config or a dict of sections"
    )


def load(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a config from an optional TOML file plus ``section.key=value`` overrides."""
    data = read_toml(path, "--config ") if path is not None else {}
    for o in overrides:  # in order: a later section table merges into earlier changes
        key, value = parse_override(o)
        data = _merge(data, _nest({key: value}))
    return from_dict(data)


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
            default = _to_plain(f.default)
            shown = str(default).lower() if isinstance(default, bool) else repr(default)
            lines.append(f"| `{key}` | `{shown}` | {_describe(cls, f)} | {f.metadata['help']} |")
        lines.append("")
    return "\n".join(lines)

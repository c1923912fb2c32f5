"""``run(config) -> RunResult``: the one place that wires world, data, proxy, optimizer and
evaluation together.

Seeds: the world (gold and reference policy) comes from ``world.seed``; everything random in
the run (prompt split, data, proxy initialization and fitting, optimization, evaluation)
comes from independent streams spawned from ``seed`` by ``numpy.random.SeedSequence``, so
the same config gives bit-identical numbers in any process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simrl.analysis import summarize
from simrl.config import Config
from simrl.data import make_pairs, split_prompts
from simrl.evaluate import Evaluator
from simrl.optimize import rloo
from simrl.policy import TabularPolicy, reference_policy
from simrl.reward_model import ProxyRM
from simrl.world import Gold

STREAMS = ("split", "data", "rm_init", "rm_fit", "optimize", "eval")


@dataclass
class RunResult:
    """Everything one run produced.

    Attributes:
        config: The resolved config.
        curve: Checkpoints with ``step, kl, sqrt_kl, proxy, proxy_se, gold, gold_se, length,
            n_samples`` (gold and proxy normalized: reference policy 0, reference std 1).
        summary: Peak and end of the curve, over-optimization and reward-model accuracies.
        timing: Seconds per phase.
        rm_history: Per-epoch loss and reward mean/std of the proxy fit.
    """

    config: Config
    curve: list[dict]
    summary: dict[str, Any]
    timing: dict[str, float]
    rm_history: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``simrl run --json`` prints."""
        return {
            "config": self.config.to_dict(),
            "curve": self.curve,
            "summary": self.summary,
            "timing": self.timing,
            "rm_history": self.rm_history,
        }


def rngs(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per phase of a run."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, children, strict=True)}


def run(cfg: Config) -> RunResult:
    """Run one over-optimization experiment end to end."""
    t0 = time.perf_counter()
    timing = {"data": 0.0, "rm_fit": 0.0, "optimize": 0.0, "evaluate": 0.0}
    r = rngs(cfg.seed)
    ref = reference_policy(cfg.world, cfg.gold.polite_tokens)
    gold = Gold.from_config(cfg.world, cfg.gold)
    train_x, held_x = split_prompts(
        cfg.world.n_prompts, cfg.data.heldout_prompt_fraction, r["split"]
    )
    train = make_pairs(ref, gold, cfg.data, train_x, cfg.data.n_pairs, r["data"])
    test = make_pairs(ref, gold, cfg.data, train_x, cfg.data.n_test_pairs, r["data"])
    held = (
        make_pairs(ref, gold, cfg.data, held_x, cfg.data.n_test_pairs, r["data"])
        if held_x.size
        else None
    )
    timing["data"] = time.perf_counter() - t0

    t = time.perf_counter()
    rm = ProxyRM.init(cfg.world, cfg.rm, r["rm_init"])
    fit = rm.fit(train.pairs, cfg.rm, r["rm_fit"])
    timing["rm_fit"] = time.perf_counter() - t

    t = time.perf_counter()
    ev = Evaluator(gold, rm, ref, cfg.eval, r["eval"])
    timing["evaluate"] += time.perf_counter() - t
    curve: list[dict] = []

    if cfg.policy.optimizer == "bon":
        t = time.perf_counter()
        curve = ev.bon_curve(cfg.policy.bon_n_max, cfg.policy.bon_samples)
        timing["evaluate"] += time.perf_counter() - t
        kl_kind = "bound"
    else:

        def checkpoint(step: int, policy: TabularPolicy) -> None:
            t_eval = time.perf_counter()
            curve.append(ev.point(policy, step))
            timing["evaluate"] += time.perf_counter() - t_eval

        t = time.perf_counter()
        eval_before = timing["evaluate"]
        rloo(ref, rm, cfg.policy, r["optimize"], checkpoint)
        timing["optimize"] = time.perf_counter() - t - (timing["evaluate"] - eval_before)
        kl_kind = "exact"

    summary = summarize(curve)
    summary.update(
        {
            "kl_kind": kl_kind,
            "rm_train_acc": rm.accuracy(train.pairs),
            "rm_test_acc": rm.accuracy(test.pairs),
            "rm_heldout_acc": rm.accuracy(held.pairs) if held is not None else None,
            "rm_bayes_acc": test.bayes_accuracy,
            "gold_ref_mean": ev.norm.gold_mean,
            "gold_ref_std": ev.norm.gold_std,
            "proxy_ref_mean": ev.norm.proxy_mean,
            "proxy_ref_std": ev.norm.proxy_std,
        }
    )
    timing["total"] = time.perf_counter() - t0
    return RunResult(
        cfg,
        curve,
        summary,
        timing,
        {
            "loss": fit.loss.tolist(),
            "reward_mean": fit.reward_mean.tolist(),
            "reward_std": fit.reward_std.tolist(),
        },
    )

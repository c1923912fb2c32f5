"""``run(config) -> RunResult``: the one place that wires world, data, proxy, optimizer and
evaluation together. The world, data and fitted proxy come from :func:`simrl.build.build`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simrl.analysis import fit_gao, matched_summary, ndr, summarize
from simrl.build import STREAMS, Setup, build, rngs
from simrl.config import Config
from simrl.diagnostics import rm_diagnostics
from simrl.evaluate import Evaluator
from simrl.optimize import Target, normalized, optimize
from simrl.policy import TabularPolicy

__all__ = ["STREAMS", "RunResult", "Setup", "build", "optimize_curve", "rngs", "run"]


@dataclass
class RunResult:
    """Everything one run produced.

    Attributes:
        config: The resolved config.
        curve: Checkpoints with ``step, kl, sqrt_kl, proxy, proxy_se, gold, gold_se, length,
            n_samples`` (gold and proxy normalized: reference policy 0, reference std 1).
        summary: Peak and end of the curve, over-optimization and reward-model accuracies.
        timing: Seconds per phase.
        rm_history: Per-member, per-epoch loss and reward mean/std of the proxy fit.
        length_dist: Exact distribution of the response length (0..T, averaged over prompts)
            of the reference policy and, for policy-gradient runs, of the final policy.
    """

    config: Config
    curve: list[dict]
    summary: dict[str, Any]
    timing: dict[str, float]
    rm_history: dict[str, list[float]] = field(default_factory=dict)
    length_dist: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``simrl run --json`` prints."""
        return {
            "config": self.config.to_dict(),
            "curve": self.curve,
            "summary": self.summary,
            "timing": self.timing,
            "rm_history": self.rm_history,
            "length_dist": self.length_dist,
        }


def optimize_curve(
    cfg: Config,
    setup: Setup,
    ev: Evaluator,
    reward: str,
    rng: np.random.Generator,
    timing: dict[str, float],
    norm_rng: np.random.Generator,
) -> list[dict]:
    """The curve of one optimization of ``reward`` ("proxy" or "gold") with the configured
    optimizer, evaluated at every checkpoint; adds to ``timing``'s optimize and evaluate.
    With ``policy.reward_norm = "ref"`` the reward (gold as well as proxy, so that NDR
    compares like with like) is normalized on reference responses drawn from ``norm_rng``."""
    p = cfg.policy
    if p.optimizer == "bon":
        t = time.perf_counter()
        curve = ev.bon_curve(p.bon_n_max, p.bon_samples, reward, p.bon_exact_max)
        timing["evaluate"] += time.perf_counter() - t
        return curve, None
    target = (
        Target.proxy(setup.rm) if reward == "proxy" else Target.gold_itself(setup.gold, setup.rm)
    )
    curve: list[dict] = []
    t0, eval_before = time.perf_counter(), timing["evaluate"]
    if p.reward_norm == "ref":
        target = normalized(target, setup.ref, p.reward_norm_samples, norm_rng)

    def checkpoint(step: int, policy: TabularPolicy) -> None:
        t = time.perf_counter()
        curve.append(ev.point(policy, step))
        timing["evaluate"] += time.perf_counter() - t

    final, _ = optimize(setup.ref, target, p, rng, checkpoint)
    timing["optimize"] += time.perf_counter() - t0 - (timing["evaluate"] - eval_before)
    return curve, final


def run(cfg: Config) -> RunResult:
    """Run one over-optimization experiment end to end.

    The curve optimizes ``policy.reward`` (the proxy by default) with ``policy.optimizer``.
    The summary adds the fit of Gao et al.'s form for that optimizer (``fit_*``), the
    proxy's accuracies and, with ``eval.diagnostics``, its diagnostics (``rm_*``); with
    ``eval.ndr`` the same optimizer is run on the gold and ``ndr`` compares the two.
    """
    t0 = time.perf_counter()
    r = rngs(cfg.seed)
    setup = build(cfg, r)
    timing = {**setup.timing, "optimize": 0.0, "evaluate": 0.0}
    t = time.perf_counter()
    ev = Evaluator(setup.gold, setup.rm, setup.ref, cfg.eval, r["eval"])
    timing["evaluate"] += time.perf_counter() - t

    curve, final = optimize_curve(
        cfg, setup, ev, cfg.policy.reward, r["optimize"], timing, r["reward_norm"]
    )
    bon = cfg.policy.optimizer == "bon"
    summary = summarize(curve)
    fit = fit_gao([q["sqrt_kl"] for q in curve], [q["gold"] for q in curve], "bon" if bon else "rl")
    summary.update(
        {"kl_kind": "bound" if bon else "exact", **{f"fit_{k}": v for k, v in fit.items()}}
    )
    e = cfg.eval
    summary.update(
        matched_summary(
            curve, e.sqrt_kl_budgets, e.saturation_entropy_ratio, "bon" if bon else "rl"
        )
    )
    summary.update(setup.accuracies())
    summary.update(setup.fit.summary())
    if cfg.eval.diagnostics:
        t = time.perf_counter()
        summary.update(
            rm_diagnostics(
                cfg,
                setup.ref,
                setup.gold,
                setup.rm,
                setup.train_prompts,
                setup.heldout_prompts,
                r["diagnostics"],
                final,
            )
        )
        timing["diagnostics"] = time.perf_counter() - t
    if cfg.eval.ndr:
        ev.rng = r["ndr_eval"]
        gold_curve, _ = optimize_curve(cfg, setup, ev, "gold", r["ndr"], timing, r["reward_norm"])
        summary["gold_opt_final_gold"] = gold_curve[-1]["gold"]
        summary["ndr"] = ndr(curve[-1]["gold"], gold_curve[-1]["gold"])
    summary.update(
        {
            "gold_ref_mean": ev.norm.gold_mean,
            "gold_ref_std": ev.norm.gold_std,
            "proxy_ref_mean": ev.norm.proxy_mean,
            "proxy_ref_std": ev.norm.proxy_std,
        }
    )
    timing["total"] = time.perf_counter() - t0
    history = setup.fit.history()
    lengths = {"reference": setup.ref.length_distribution().mean(0).tolist()}
    policies = {"ref": setup.ref} if final is None else {"ref": setup.ref, "final": final}
    k = cfg.gold.polite_tokens
    for name, policy in policies.items():  # exact, by the occupancy recursion
        counts = policy.expected_token_counts().mean(0)
        summary[f"{name}_length"] = float(counts[1:].sum())
        summary[f"{name}_polite"] = float(counts[1 : k + 1].sum())
    if final is not None:
        lengths["final"] = final.length_distribution().mean(0).tolist()
    return RunResult(cfg, curve, summary, timing, history, lengths)

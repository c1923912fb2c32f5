"""``run(config) -> RunResult``: the one place that wires world, data, proxy, optimizer and
evaluation together. The world, data and fitted proxy come from :func:`simrl.build.build`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simrl.analysis import fit_gao, matched_summary, ndr, summarize
from simrl.best_of_n import bon_curve
from simrl.build import STREAMS, Setup, build, rngs
from simrl.config import Config
from simrl.diagnostics import rm_diagnostics
from simrl.direct import implicit_accuracy
from simrl.evaluate import Evaluator
from simrl.occupancy import OccupancyChi2
from simrl.optimize import Target, normalized, optimize
from simrl.policy import TabularPolicy

__all__ = [
    "STREAMS",
    "RunResult",
    "Setup",
    "build",
    "curve_extras",
    "optimize_curve",
    "rngs",
    "run",
]


@dataclass
class RunResult:
    """Everything one run produced.

    Attributes:
        config: The resolved config.
        curve: Checkpoints with ``step, kl, sqrt_kl, proxy, proxy_se, gold, gold_se, length,
            n_samples`` (gold and proxy normalized: reference policy 0, reference std 1), and
            for a policy ``entropy``, ``entropy_per_token``, ``occupancy_chi2`` and, for
            direct alignment, ``implicit_acc`` (:func:`optimize_curve`).
        summary: Peak and end of the curve, over-optimization and reward-model accuracies.
        timing: Seconds per phase.
        rm_history: Per-member, per-epoch loss and reward mean/std of the proxy fit.
        length_dist: Exact distribution of the response length (0..T, averaged over prompts)
            of the reference policy and, for runs that update a policy, of the final one.
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
) -> tuple[list[dict], TabularPolicy | None]:
    """The curve of one optimization of ``reward`` ("proxy" or "gold") with the configured
    optimizer (:func:`simrl.optimize.optimize` dispatches on it), evaluated at every
    checkpoint, and the final policy (None for best-of-n); adds to ``timing``'s optimize
    and evaluate.

    Policy gradient: with ``policy.reward_norm = "ref"`` the reward (gold as well as proxy,
    so that NDR compares like with like) is normalized on reference responses drawn from
    ``norm_rng``. Direct alignment fits ``setup.train``'s pairs (the proxy's own), labelled
    online by the raw proxy with ``policy.dpo_online``; each point adds ``implicit_acc``, the
    implicit reward's accuracy on the fresh in-domain pairs ``setup.test`` (never trained
    on). Every policy's point adds ``occupancy_chi2``, the exact chi^2(mu_pi || mu_ref).
    """
    p = cfg.policy
    if p.family == "best_of_n":
        t = time.perf_counter()
        curve = bon_curve(ev, p.bon_n_max, p.bon_samples, reward, p.bon_exact_max)
        timing["evaluate"] += time.perf_counter() - t
        return curve, None
    target = (
        Target.proxy(setup.rm) if reward == "proxy" else Target.gold_itself(setup.gold, setup.rm)
    )
    curve: list[dict] = []
    t0, eval_before = time.perf_counter(), timing["evaluate"]
    if p.family == "policy_gradient" and p.reward_norm == "ref":
        target = normalized(target, setup.ref, p.reward_norm_samples, norm_rng)
    direct = p.family == "direct"
    chi2 = OccupancyChi2.of(setup.ref)

    def checkpoint(step: int, policy: TabularPolicy) -> None:
        t = time.perf_counter()
        point = ev.point(policy, step)
        point["occupancy_chi2"] = chi2.value(policy)
        if direct:
            point["implicit_acc"] = implicit_accuracy(
                policy, setup.ref, setup.test.pairs, p.optimizer, p.beta
            )
        curve.append(point)
        timing["evaluate"] += time.perf_counter() - t

    pairs = setup.train.pairs if direct else None
    final, _ = optimize(setup.ref, target, p, rng, checkpoint, pairs)
    timing["optimize"] += time.perf_counter() - t0 - (timing["evaluate"] - eval_before)
    return curve, final


def curve_extras(curve: list[dict]) -> dict:
    """Summary values of the curve keys the store's curve table does not hold: the
    final occupancy chi^2 and, for direct alignment, the implicit reward's held-out
    accuracy at every checkpoint (``implicit_acc``, in curve order), at the end and at most.
    """
    out: dict = {}
    if "occupancy_chi2" in curve[-1]:
        out["final_occupancy_chi2"] = curve[-1]["occupancy_chi2"]
    if "implicit_acc" in curve[-1]:
        acc = [q["implicit_acc"] for q in curve]
        out.update(implicit_acc=acc, final_implicit_acc=acc[-1], peak_implicit_acc=max(acc))
    return out


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
    summary.update(curve_extras(curve))
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

"""Diagnostics of a fitted proxy: hidden-state dispersion, reward scale, and accuracy and
Kendall tau in the four robustness scenarios of Hong et al. (2025).

Scenarios (the proxy is trained on training prompts, responses from the reference mix):

* in-domain: training prompts, fresh responses from the same policies;
* prompt-OOD: held-out prompts, the same policies;
* response-OOD: training prompts, responses from another reference policy
  (``data.ood_policy_seed``);
* mutual-OOD: held-out prompts and the other policy.

Each gets pair accuracy against gold labels and the mean per-prompt Kendall tau between
proxy and gold over ``eval.kendall_k`` responses to one prompt. This module is on the
evaluation side: it reads the gold.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from simrl.config import Config, WorldConfig
from simrl.data import make_pairs, sample_mixture
from simrl.policy import TabularPolicy, reference_policy
from simrl.reward_model import ProxyRM
from simrl.world import Gold

SCENARIOS = ("in_domain", "prompt_ood", "response_ood", "mutual_ood")
OOD_TAG = 0x00D  # separates the other policy's seed stream from any other derived seed


def hidden_norm_stats(h: np.ndarray) -> dict[str, float]:
    """Dispersion of hidden-state norms (rows of ``h``); the BSR paper ties
    over-optimization to a large spread of the representation.

    Two coefficients of variation: ``hnorm_cv`` of the raw norms ||h|| (with their mean, std
    and quantiles), and ``hnorm_centered_cv`` of ||h - mean(h)||. They differ when the hidden
    states share a constant vector: under BT the output bias gets zero gradient, so a drifting
    reward offset is stored as a shared component of h, which inflates mean ||h|| and
    deflates the raw CV without any change in how the responses are spread. The centered one
    measures the dispersion of the representation itself.
    """
    norms = np.linalg.norm(h, axis=1)
    mean = float(norms.mean())
    centered = np.linalg.norm(h - h.mean(axis=0), axis=1)
    c_mean = float(centered.mean())
    q = np.quantile(norms, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "hnorm_mean": mean,
        "hnorm_std": float(norms.std()),
        "hnorm_cv": float(norms.std() / mean) if mean > 0 else float("nan"),
        "hnorm_centered_cv": float(centered.std() / c_mean) if c_mean > 0 else float("nan"),
        **{
            f"hnorm_q{int(100 * p):02d}": float(v)
            for p, v in zip((0.05, 0.25, 0.5, 0.75, 0.95), q, strict=True)
        },
    }


def effective_rank(h: np.ndarray) -> float:
    """exp of the entropy of the normalized singular values (Roy & Vetterli 2007)."""
    s = np.linalg.svd(h, compute_uv=False)
    if s.sum() <= 0:
        return 0.0
    p = s / s.sum()
    p = p[p > 0]
    return float(math.exp(-(p * np.log(p)).sum()))


def norm_reward_corr(h: np.ndarray, r: np.ndarray) -> float:
    """Pearson correlation of ||h|| with |r - mean r| over responses: near 1 when the
    reward's magnitude is carried by the norm of the representation (the BSR paper's link
    between norm dispersion and extreme rewards); NaN if either is constant."""
    a, b = np.linalg.norm(h, axis=1), np.abs(r - r.mean())
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def representation(rm: ProxyRM, prompts, tokens, lengths, prefix: str) -> dict[str, float]:
    """Dispersion of the hidden state on a set of responses (first member of an ensemble):
    the CV of ||h - mean h||, the correlation of ||h|| with |r - mean r|, and the effective
    rank, with keys ``rm_{prefix}hnorm_centered_cv``, ``rm_{prefix}hr_corr``,
    ``rm_{prefix}erank``."""
    r, h = rm.member_scores(prompts, tokens, lengths)
    return {
        f"rm_{prefix}hnorm_centered_cv": hidden_norm_stats(h[0])["hnorm_centered_cv"],
        f"rm_{prefix}hr_corr": norm_reward_corr(h[0], r[0]),
        f"rm_{prefix}erank": effective_rank(h[0]),
    }


def reward_scale(r: np.ndarray) -> dict[str, float]:
    """Mean, spread and mean absolute value of raw proxy rewards: BT leaves their offset
    free, so without a regularizer they can drift (source 000)."""
    return {
        "reward_mean": float(r.mean()),
        "reward_std": float(r.std()),
        "reward_absmean": float(np.abs(r).mean()),
    }


def kendall_tau_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between ``a[i]`` and ``b[i]`` for every row i, vectorized.

    tau_b = (C - D) / sqrt((n0 - t_a)(n0 - t_b)) with C - D = sum_{i<j} sgn(a_i - a_j)
    sgn(b_i - b_j), n0 = k(k-1)/2 pairs and t_a, t_b the pairs tied in a and in b (Kendall
    1945). NaN where a row of ``a`` or ``b`` is constant. Same values as
    ``scipy.stats.kendalltau``, which the tests check.
    """
    da = np.sign(a[:, :, None] - a[:, None, :])
    db = np.sign(b[:, :, None] - b[:, None, :])
    k = a.shape[1]
    n0 = k * (k - 1) / 2
    cd = (da * db).sum(axis=(1, 2)) / 2  # each unordered pair counted twice
    ta = n0 - np.abs(da).sum(axis=(1, 2)) / 2
    tb = n0 - np.abs(db).sum(axis=(1, 2)) / 2
    denom = np.sqrt((n0 - ta) * (n0 - tb))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, cd / np.where(denom > 0, denom, 1.0), np.nan)


def mean_kendall_tau(proxy: np.ndarray, gold: np.ndarray) -> float:
    """Mean over rows of Kendall's tau-b between proxy and gold scores (rows where either is
    constant have no tau and are skipped)."""
    taus = kendall_tau_rows(proxy, gold)
    taus = taus[np.isfinite(taus)]
    return float(taus.mean()) if taus.size else float("nan")


def kendall_groups(
    policy: TabularPolicy,
    cfg: Config,
    gold: Gold,
    rm: ProxyRM,
    prompt_ids: np.ndarray,
    n_groups: int,
    k: int,
    rng: np.random.Generator,
) -> float:
    """Mean per-prompt Kendall tau over ``n_groups`` groups of ``k`` responses to a prompt."""
    prompts = np.repeat(rng.choice(prompt_ids, size=n_groups), k)
    tok, ln = sample_mixture(policy, cfg.data.temperatures, prompts, rng)
    g = gold.rewards(prompts, tok, ln).reshape(n_groups, k)
    p = rm.score(prompts, tok, ln).reshape(n_groups, k)
    return mean_kendall_tau(p, g)


def ood_world(cfg: Config) -> WorldConfig:
    """The world whose reference policy writes the response-OOD sets.

    Its seed is derived from ``(world.seed, data.ood_policy_seed)`` by ``SeedSequence`` and
    can never equal ``world.seed`` (else the "other" policy would be the reference policy
    itself), so every world gets its own other policy for every ``ood_policy_seed``.
    """
    seq = np.random.SeedSequence([cfg.world.seed, cfg.data.ood_policy_seed, OOD_TAG])
    seed = int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))  # in [0, 2^63)
    if seed == cfg.world.seed:
        seed = (seed + 1) % 2**63
    return dataclasses.replace(cfg.world, seed=seed)


def rm_diagnostics(
    cfg: Config,
    ref: TabularPolicy,
    gold: Gold,
    rm: ProxyRM,
    train_prompts: np.ndarray,
    heldout_prompts: np.ndarray,
    rng: np.random.Generator,
    final: TabularPolicy | None = None,
) -> dict[str, float | None]:
    """Every diagnostic, flat (``rm_`` prefix), ready for a summary.

    Hidden states and reward scale are measured on fresh in-domain responses (first member
    of an ensemble for the hidden states); the hidden state's dispersion also on the
    response-OOD pairs' responses (``rm_response_ood_*``) and, given the optimized policy
    ``final``, on its responses to the training prompts (``rm_final_*``), drawn after
    everything else so that the other diagnostics do not depend on it. Scenarios needing
    held-out prompts report None when there are none.
    """
    n = cfg.data.n_test_pairs
    k = cfg.eval.kendall_k
    prompts = rng.choice(train_prompts, size=2 * n)
    tok, ln = sample_mixture(ref, cfg.data.temperatures, prompts, rng)
    r, h = rm.member_scores(prompts, tok, ln)
    out: dict[str, float | None] = {}
    out.update({f"rm_{key}": v for key, v in hidden_norm_stats(h[0]).items()})
    out["rm_erank"] = effective_rank(h[0])
    out["rm_hr_corr"] = norm_reward_corr(h[0], r[0])
    out.update({f"rm_{key}": v for key, v in reward_scale(rm.score(prompts, tok, ln)).items()})
    ood = reference_policy(ood_world(cfg), cfg.gold.polite_tokens)
    sets = {
        "in_domain": (ref, train_prompts),
        "prompt_ood": (ref, heldout_prompts),
        "response_ood": (ood, train_prompts),
        "mutual_ood": (ood, heldout_prompts),
    }
    for name, (policy, ids) in sets.items():
        if ids.size == 0:
            out[f"rm_acc_{name}"] = out[f"rm_tau_{name}"] = None
            continue
        pairs = make_pairs(policy, gold, cfg.data, ids, n, rng).pairs
        if name == "response_ood":
            both = np.concatenate([pairs.prompts, pairs.prompts])
            tok2 = np.concatenate([pairs.chosen, pairs.rejected])
            ln2 = np.concatenate([pairs.chosen_len, pairs.rejected_len])
            out.update(representation(rm, both, tok2, ln2, "response_ood_"))
        out[f"rm_acc_{name}"] = rm.accuracy(pairs)
        out[f"rm_tau_{name}"] = kendall_groups(policy, cfg, gold, rm, ids, max(n // k, 1), k, rng)
    if final is not None:
        prompts = rng.choice(train_prompts, size=2 * n)
        tok, ln = final.sample(prompts, rng)
        out.update(representation(rm, prompts, tok, ln, "final_"))
    return out

"""Evaluation of policies by gold and proxy: the only place, with data labelling, that sees the
gold.

Gold is normalized as in Gao et al. (2023): the reference policy scores 0 and one standard
deviation of gold under the reference policy is 1. The proxy is normalized the same way by
its own reference mean and deviation, so both curves start at 0 on a common scale.

The gold is a polynomial in what a Markov policy writes, so its expectation, and its
reference mean and deviation, are computed exactly (:mod:`simrl.kernels.moments`): the gold
curve has no sampling noise. So are KL, length and entropy. Only the proxy (a neural
network) and best-of-n selection (:mod:`simrl.best_of_n`, which draws its samples here) are
estimated by Monte Carlo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simrl.config import EvalConfig
from simrl.kernels.evaluate import sample_and_score, sample_and_score_proxy
from simrl.kernels.kl import exact_kl, expected_length, policy_entropy
from simrl.kernels.moments import gold_expectation
from simrl.policy import TabularPolicy
from simrl.reward_model import ProxyRM
from simrl.world import Gold


def stratified_se(values: np.ndarray, prompts: np.ndarray, n_prompts: int) -> float:
    """Standard error of the prompt-averaged mean under stratified sampling.

    Each prompt x contributes its own mean over n_x samples with variance s_x^2 / n_x, so
    SE^2 = (1 / P^2) sum_x s_x^2 / n_x (Cochran, *Sampling Techniques*, eq. 5.6); the spread
    between prompts adds nothing because every prompt is sampled in fixed proportion.
    """
    n = np.bincount(prompts, minlength=n_prompts).astype(float)
    s1 = np.bincount(prompts, weights=values, minlength=n_prompts)
    s2 = np.bincount(prompts, weights=values * values, minlength=n_prompts)
    var = np.maximum(s2 / n - (s1 / n) ** 2, 0.0) * n / np.maximum(n - 1.0, 1.0)
    return float(math.sqrt((var / n).sum()) / n_prompts)


@dataclass(frozen=True)
class Normalizer:
    """Reference means and deviations of gold (exact) and proxy (Monte Carlo)."""

    gold_mean: float
    gold_std: float
    proxy_mean: float
    proxy_std: float


class Evaluator:
    """Scores policies exactly (gold, KL, length, entropy) and by Monte Carlo (proxy).

    Args:
        gold: The hidden gold.
        rm: The proxy being optimized.
        ref: The reference policy (KL and normalization are relative to it).
        cfg: Sample sizes and the proxy's standard-error target.
        rng: Generator for every sample the evaluator draws.
    """

    def __init__(
        self, gold: Gold, rm: ProxyRM, ref: TabularPolicy, cfg: EvalConfig, rng: np.random.Generator
    ) -> None:
        self.gold, self.rm, self.ref, self.cfg, self.rng = gold, rm, ref, cfg, rng
        self.P = ref.shape[0]
        self.ref_logp = ref.logp()
        # Gold under pi_ref with x uniform: mean E_x E[r* | x] (by the same kernel as every
        # checkpoint's, so pi_ref itself scores exactly 0) and variance
        # E_x E[r*^2 | x] - (E_x E[r* | x])^2, prompts pooled as stratified samples are.
        gold_mean = float(gold.expected(ref).mean())
        gold_std = math.sqrt(max(float(gold.moments(ref)[1].mean()) - gold_mean**2, 0.0))
        p = self.sample_proxy(ref, cfg.norm_samples)
        self.norm = Normalizer(gold_mean, gold_std, float(p.mean()), float(p.std()))
        if not (self.norm.gold_std > 0 and self.norm.proxy_std > 0):
            raise ValueError(
                "gold or proxy is constant under the reference policy; "
                "the curve cannot be normalized (check the gold.* scales)"
            )

    def sample(
        self, policy: TabularPolicy, n: int, cdf: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw gold, proxy and length of ``n`` responses, prompts stratified (n mod P)."""
        prompts = np.arange(n, dtype=np.int64) % self.P
        cdf = policy.cdf() if cdf is None else cdf
        return sample_and_score(cdf, prompts, self.rng, self.rm.spec(), self.gold.spec())

    def sample_proxy(
        self, policy: TabularPolicy, n: int, cdf: np.ndarray | None = None
    ) -> np.ndarray:
        """Raw proxy of ``n`` responses, prompts stratified (n mod P); the same responses as
        :meth:`sample` would draw."""
        prompts = np.arange(n, dtype=np.int64) % self.P
        cdf = policy.cdf() if cdf is None else cdf
        return sample_and_score_proxy(cdf, prompts, self.rng, self.rm.spec())

    def point(self, policy: TabularPolicy, step: int) -> dict:
        """One curve point: exact KL, gold, length and entropy; Monte Carlo proxy.

        ``gold`` is the exact prompt-averaged expectation, normalized by the exact reference
        mean and deviation, so ``gold_se`` is 0. Proxy samples are drawn in doubling rounds
        from ``min_samples`` until the standard error of the normalized proxy mean is at most
        ``proxy_se_target`` or ``max_samples`` are used; ``n_samples`` counts them.
        ``entropy`` is the mean over prompts of H(x) (nats per response) and
        ``entropy_per_token`` that of H(x) / N(x), with N(x) the expected number of actions
        (:meth:`simrl.policy.TabularPolicy.entropy_per_token`).
        """
        cfg, nm = self.cfg, self.norm
        logp = policy.logp()  # every exact quantity below is a recursion over it
        cdf = policy.cdf()
        parts = [self.sample_proxy(policy, cfg.min_samples, cdf)]
        total = cfg.min_samples
        while True:
            p = np.concatenate(parts)
            prompts = np.concatenate([np.arange(q.size) % self.P for q in parts])
            proxy_se = stratified_se(p, prompts, self.P) / nm.proxy_std
            if proxy_se <= cfg.proxy_se_target or total >= cfg.max_samples:
                break
            more = min(total, cfg.max_samples - total)
            parts.append(self.sample_proxy(policy, more, cdf))
            total += more
        kl = float(exact_kl(logp, self.ref_logp).mean())
        kl = max(kl, 0.0)  # the recursion can return -1e-17 for identical tables
        gold = float(gold_expectation(logp, self.gold.spec()).mean())
        entropy, actions = policy_entropy(logp)
        return {
            "step": int(step),
            "kl": kl,
            "sqrt_kl": math.sqrt(kl),
            "proxy": float((p.mean() - nm.proxy_mean) / nm.proxy_std),
            "proxy_se": float(proxy_se),
            "gold": (gold - nm.gold_mean) / nm.gold_std,
            "gold_se": 0.0,  # exact
            "length": float(expected_length(logp).mean()),
            "n_samples": int(total),
            "entropy": float(entropy.mean()),
            "entropy_per_token": float((entropy / actions).mean()),
        }

    def bon_curve(
        self, n_max: int, n_samples: int, select: str = "proxy", exact_max: int = 0
    ) -> list[dict]:
        """Best-of-n from the reference policy, scored by this evaluator
        (:func:`simrl.best_of_n.bon_curve`)."""
        from simrl.best_of_n import bon_curve

        return bon_curve(self, n_max, n_samples, select, exact_max)

"""Pretraining the proxy on preferences from a related gold (``rm.pretrain = related``).

Real reward models are pretrained networks fine-tuned with a pairwise loss. Here the network
is first fitted on pairs labelled by a gold that is *correlated* with this world's but not
equal to it, then given a fresh head and fine-tuned on the run's own pairs
(:meth:`simrl.reward_model.ProxyRM.pretrain`).

The related gold, with rho = ``rm.pretrain_gold_mix``. Let a = r*(x, y) be this world's gold
and b the gold of another world (same gold config, its own token and bigram values; seed
derived from ``world.seed``). On a calibration sample (the pretraining responses), with
per-prompt means removed and pooled within-prompt standard deviations s_a, s_b:

    z_a = (a - m_a(x)) / s_a,  z_b = (b - m_b(x)) / s_b,  k = mean(z_a z_b)
    e   = (z_b - k z_a) / s_e,  s_e = sqrt(mean((z_b - k z_a)^2))   (b orthogonalized to a)
    r~  = m_a(x) + s_a (rho z_a + sqrt(1 - rho^2) e)

so on the calibration sample mean(z_a e) = 0 exactly and r~ has this gold's per-prompt means
and within-prompt spread, and a within-prompt correlation of exactly rho with it. Within a
prompt is what preferences see (every pair shares a prompt). The two worlds' golds are
correlated before any mixing (the length, politeness and repetition terms do not depend on the
world seed), which is why b is orthogonalized: the stated rho is the correlation, not a
weight. Labels come from this world's preference model (its tau and label noise) applied
to r~. The correlation is measured again on fresh responses (``rm_pretrain_gold_corr``),
beside the raw correlation of the two worlds' golds (``rm_pretrain_worlds_corr``).

Pretraining uses the run's training prompts only, so prompt-OOD evaluation stays clean.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from simrl.config import Config, WorldConfig
from simrl.data import PreferencePairs, sample_mixture
from simrl.policy import TabularPolicy
from simrl.reward_model import ProxyRM
from simrl.world import Gold

RELATED_TAG = 0x9E1  # separates the related world's seed stream from any other derived seed


def related_world(cfg: Config) -> WorldConfig:
    """The world whose gold is mixed into the pretraining gold; its seed is derived from
    ``world.seed`` and never equals it."""
    seq = np.random.SeedSequence([cfg.world.seed, RELATED_TAG])
    seed = int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))
    if seed == cfg.world.seed:
        seed = (seed + 1) % 2**63
    return dataclasses.replace(cfg.world, seed=seed)


def within_prompt(prompts: np.ndarray, r: np.ndarray, n_prompts: int) -> tuple[np.ndarray, float]:
    """Per-prompt means of ``r`` (shape (P,), 0 for absent prompts) and the pooled
    within-prompt standard deviation."""
    counts = np.bincount(prompts, minlength=n_prompts)
    means = np.bincount(prompts, weights=r, minlength=n_prompts) / np.maximum(counts, 1)
    return means, float(np.sqrt(np.mean((r - means[prompts]) ** 2)))


def within_prompt_corr(prompts: np.ndarray, a: np.ndarray, b: np.ndarray, n_prompts: int):
    """Correlation of ``a`` and ``b`` after removing each one's per-prompt mean."""
    da = a - within_prompt(prompts, a, n_prompts)[0][prompts]
    db = b - within_prompt(prompts, b, n_prompts)[0][prompts]
    return float((da * db).sum() / np.sqrt((da * da).sum() * (db * db).sum()))


@dataclass(frozen=True)
class RelatedGold:
    """The pretraining gold r~ (module docstring), a fixed function once calibrated."""

    gold: Gold
    other: Gold
    rho: float
    mean_a: np.ndarray
    mean_b: np.ndarray
    sd_a: float
    sd_b: float
    k: float
    sd_e: float

    @classmethod
    def calibrate(
        cls, gold: Gold, other: Gold, rho: float, prompts, tokens, lengths
    ) -> RelatedGold:
        """Fit the per-prompt means, spreads and the orthogonalization on a sample."""
        P = gold.values.shape[0]
        a, b = gold.rewards(prompts, tokens, lengths), other.rewards(prompts, tokens, lengths)
        mean_a, sd_a = within_prompt(prompts, a, P)
        mean_b, sd_b = within_prompt(prompts, b, P)
        za, zb = (a - mean_a[prompts]) / sd_a, (b - mean_b[prompts]) / sd_b
        k = float(np.mean(za * zb))
        sd_e = float(np.sqrt(np.mean((zb - k * za) ** 2)))
        return cls(gold, other, rho, mean_a, mean_b, sd_a, sd_b, k, sd_e)

    def rewards(self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray):
        """r~(x, y) of each response."""
        za = (self.gold.rewards(prompts, tokens, lengths) - self.mean_a[prompts]) / self.sd_a
        zb = (self.other.rewards(prompts, tokens, lengths) - self.mean_b[prompts]) / self.sd_b
        e = (zb - self.k * za) / self.sd_e
        return self.mean_a[prompts] + self.sd_a * (self.rho * za + np.sqrt(1.0 - self.rho**2) * e)


def related_pairs(
    cfg: Config, ref: TabularPolicy, gold: Gold, train_prompts: np.ndarray, rng
) -> tuple[PreferencePairs, dict[str, float]]:
    """``rm.pretrain_pairs`` pairs of reference responses on the training prompts, labelled
    by the related gold; and the measured correlations (on as many fresh responses)."""
    n = cfg.rm.pretrain_pairs
    P = cfg.world.n_prompts
    other = Gold.from_config(related_world(cfg), cfg.gold)
    prompts = rng.choice(np.asarray(train_prompts, np.int64), size=n)
    t1, l1 = sample_mixture(ref, cfg.data.temperatures, prompts, rng)
    t2, l2 = sample_mixture(ref, cfg.data.temperatures, prompts, rng)
    both = np.concatenate([prompts, prompts])
    mixed = RelatedGold.calibrate(
        gold, other, cfg.rm.pretrain_gold_mix, both, np.concatenate([t1, t2]),
        np.concatenate([l1, l2]),
    )  # fmt: skip
    first = gold.label(mixed.rewards(prompts, t1, l1), mixed.rewards(prompts, t2, l2), rng)
    pick = first[:, None]
    pairs = PreferencePairs(
        prompts=prompts,
        chosen=np.where(pick, t1, t2),
        chosen_len=np.where(first, l1, l2),
        rejected=np.where(pick, t2, t1),
        rejected_len=np.where(first, l2, l1),
    )
    fresh = rng.choice(np.asarray(train_prompts, np.int64), size=2 * n)
    tok, ln = sample_mixture(ref, cfg.data.temperatures, fresh, rng)
    a = gold.rewards(fresh, tok, ln)
    stats = {
        "rm_pretrain_gold_corr": within_prompt_corr(fresh, mixed.rewards(fresh, tok, ln), a, P),
        "rm_pretrain_worlds_corr": within_prompt_corr(fresh, other.rewards(fresh, tok, ln), a, P),
    }
    return pairs, stats


def pretrain(
    cfg: Config, ref: TabularPolicy, gold: Gold, train_prompts: np.ndarray, rm: ProxyRM, rng
) -> dict[str, float]:
    """Pretrain ``rm`` in place on related-gold pairs (``rm.pretrain = related``); returns
    summary scalars: the measured correlations, the pretraining's last-epoch loss and the
    pretrained network's accuracy on its own pairs."""
    pairs, stats = related_pairs(cfg, ref, gold, train_prompts, rng)
    result = rm.pretrain(pairs, cfg.rm, rng)
    stats["rm_pretrain_loss"] = float(result.loss[0, -1])
    return stats
